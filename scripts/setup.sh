#!/usr/bin/env bash
# Set up a fresh Debian / Python 3.11 machine for DiM-Gesture: Debian libraries that the bpy
# wheel and the corpus tools need, a .venv at the repository root, and the project installed
# editable with its test extra. Idempotent: a second run only checks and returns in a second.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3

# Debian packages: bpy's X11/GL libraries (DESIGN.md §10), espeak-ng, flite and festival with its English voices
# (diphone kal/ked and the HTS voice slt) for the procedural corpus (mbrola voices are not in Debian's main archive).
DEB_PACKAGES=(libx11-6 libxrender1 libxfixes3 libxi6 libxkbcommon0 libsm6 libice6 libxext6 libgl1 espeak-ng
             flite festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts)
missing=()
if command -v dpkg-query >/dev/null 2>&1; then
    for pkg in "${DEB_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
fi
if [ "${#missing[@]}" -gt 0 ]; then
    echo "setup: installing Debian packages: ${missing[*]}"
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

STAMP=.venv/.dimgesture-setup
WANT="$(cat pyproject.toml backend/requirements.txt scripts/setup.sh | sha256sum | cut -d' ' -f1)"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ] && [ -x .venv/bin/python ]; then
    exit 0
fi
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# torch is pinned in pyproject.toml (2.13.0, CPU build here); installing it first keeps pip
# from resolving a CUDA build through another package's requirements.
.venv/bin/python -m pip install -q "torch==2.13.0"
.venv/bin/python -m pip install -q -e ".[test]"
echo "$WANT" > "$STAMP"
echo "setup: done (.venv ready)"
