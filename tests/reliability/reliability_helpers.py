"""Helpers shared by the reliability tests (a uniquely named module: conftest.py is not importable)."""

from __future__ import annotations

import importlib
import sys
import time
import types
from pathlib import Path

import numpy as np

from backend.audio import SPEECH_SAMPLE_RATE


def speech_like(seconds: float, rate: int = SPEECH_SAMPLE_RATE, channels: int = 1, seed: int = 0) -> np.ndarray:
    """A deterministic voiced-sounding test signal (harmonics with a syllable-rate envelope)."""
    t = np.arange(int(round(seconds * rate))) / rate
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 4.0 * t) ** 2
    wave = sum(np.sin(2 * np.pi * f * t) / k for k, f in enumerate((140.0, 280.0, 420.0), start=1))
    wave = (0.2 * envelope * wave).astype(np.float32)
    if channels == 1:
        return wave
    rng = np.random.default_rng(seed)
    return np.stack([wave * rng.uniform(0.5, 1.0) for _ in range(channels)], axis=1).astype(np.float32)


REPO_ROOT = Path(__file__).resolve().parents[2]


def load_client():
    """``dimgesture_addon.client`` without Blender: it is pure Python, but lives in a package whose
    ``__init__`` imports bpy, so its two parent packages are stood in by bare namespace modules."""
    root = "dimgesture_reliability"
    if root not in sys.modules:
        for name, path in ((root, REPO_ROOT), (f"{root}.dimgesture_addon", REPO_ROOT / "dimgesture_addon")):
            module = types.ModuleType(name)
            module.__path__ = [str(path)]
            sys.modules[name] = module
    return importlib.import_module(f"{root}.dimgesture_addon.client")


FAKE_SERVER = '''\
"""A misbehaving stand-in for backend.server, steered by DIMGESTURE_FAKE (it ignores its arguments)."""
import json, os, signal, sys, time

mode = os.environ["DIMGESTURE_FAKE"]
out = sys.stdout.buffer


def emit(data):
    out.write(data)
    out.flush()


if mode == "replay":  # write a file's bytes as the answer to the first request, then exit
    sys.stdin.buffer.readline()
    with open(os.environ["DIMGESTURE_REPLAY"], "rb") as f:
        emit(f.read())
    sys.exit(0)
if mode == "hang":  # stuck somewhere that ignores input and SIGTERM
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    time.sleep(3600)
if mode == "exit_at_start":
    sys.stderr.write("Traceback (most recent call last):\\nImportError: libcudart.so.12: cannot open shared object file\\n")
    sys.exit(3)
for line in sys.stdin.buffer:
    request = json.loads(line)
    ident = request["id"].encode()
    if request["type"] == "shutdown":
        break
    if request["type"] == "cancel":
        continue
    emit(b'{"id": "%s", "type": "progress", "step": 0, "total": 10, "stage": "denoising"}\\n' % ident)
    if mode == "garbage":
        emit(b"\\x00\\xff this is not JSON \\x1b[31m\\n")
    elif mode == "bad_json":
        emit(b'{"id": "%s", "type": "result"}\\n' % ident)
    elif mode == "oversized":
        emit(b'{"id": "%s", "type": "progress", "stage": "' % ident + b"x" * (64 << 20))
    elif mode == "oversized_line":
        emit(b"y" * (3 << 20) + b"\\n")
    elif mode == "die":
        os.kill(os.getpid(), signal.SIGKILL)
    # "stall": one progress event, then silence (no heartbeat): hung mid-job
    time.sleep(3600)
'''


def fake_backend_root(folder: Path) -> Path:
    """A folder that ``python -m backend.server`` run inside finds the fake server in."""
    package = folder / "backend"
    package.mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text("")
    (package / "server.py").write_text(FAKE_SERVER)
    return folder


GUARD = '''\
"""Loaded by every Python started with this folder on PYTHONPATH: record and refuse any network use."""
import os, socket

open(os.environ["DIMGESTURE_GUARD_LOADED"], "a").close()


def _refuse(*args, **kwargs):
    with open(os.environ["DIMGESTURE_NET_LOG"], "a") as log:
        log.write(repr(args[:2]) + "\\n")
    raise OSError("network access is blocked in this test")


class _Socket(socket.socket):
    def connect(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6):
            _refuse(address)
        return super().connect(address)

    def connect_ex(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6):
            _refuse(address)
        return super().connect_ex(address)


socket.socket = _Socket
socket.getaddrinfo = _refuse
socket.create_connection = _refuse
'''


def tree(folder: Path) -> dict[str, int]:
    """Relative path → size of every file under ``folder`` (bytecode caches left out)."""
    return {str(p.relative_to(folder)): p.stat().st_size for p in sorted(folder.rglob("*"))
            if p.is_file() and "__pycache__" not in p.parts}


def wait_for(condition, seconds: float = 300.0, step: float = 0.005) -> bool:
    """Poll ``condition`` until it holds (True) or ``seconds`` pass (False): a guard against hanging, not a speed test."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return False
