"""Issue 8 §6 for ``dimgesture generate``: it writes exactly the requested outputs (no temporary or
partial files, nothing in HOME or TMPDIR) and never opens a network connection."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import soundfile as sf

from reliability_helpers import GUARD, REPO_ROOT, SPEECH_SAMPLE_RATE, speech_like, tree


def run_sealed(tmp_path: Path, args: list[str]) -> tuple[subprocess.CompletedProcess, dict[str, Path]]:
    """``python -m backend ARGS`` with HOME and TMPDIR in empty folders and sockets refused (and recorded)."""
    dirs = {name: tmp_path / name for name in ("home", "tmp", "guard", "log", "work")}
    for folder in dirs.values():
        folder.mkdir()
    (dirs["guard"] / "sitecustomize.py").write_text(GUARD)
    env = {k: v for k, v in os.environ.items() if not k.startswith("XDG_")}
    env.update(HOME=str(dirs["home"]), TMPDIR=str(dirs["tmp"]), PYTHONPATH=f"{dirs['guard']}{os.pathsep}{REPO_ROOT}",
               DIMGESTURE_GUARD_LOADED=str(dirs["log"] / "loaded"), DIMGESTURE_NET_LOG=str(dirs["log"] / "network"))
    proc = subprocess.run([sys.executable, "-m", "backend", *args], cwd=dirs["work"], env=env, capture_output=True,
                          text=True, timeout=300)
    return proc, dirs


def test_generate_writes_only_its_outputs(tmp_path, tiny_checkpoint):
    clips = tmp_path / "clips"
    clips.mkdir()
    for name in ("first", "second"):
        sf.write(clips / f"{name}.wav", speech_like(0.6), SPEECH_SAMPLE_RATE)
    (clips / "third.wav").write_bytes(b"RIFF\0\0\0\0WAVEjunk")  # fails after two clips were written
    checkpoint_before = tree(tiny_checkpoint)
    out = tmp_path / "out"
    proc, dirs = run_sealed(tmp_path, ["generate", str(clips / "first.wav"), str(clips / "second.wav"),
                                       str(clips / "third.wav"), "-o", str(out), "--format", "both",
                                       "--checkpoint", str(tiny_checkpoint), "--steps", "1", "--device", "cpu",
                                       "--no-progress"])
    assert proc.returncode == 1, proc.stderr
    assert f"{clips / 'third.wav'}: cannot be read as audio" in proc.stderr and "Traceback" not in proc.stderr
    assert sorted(tree(out)) == ["first.bvh", "first.npz", "second.bvh", "second.npz"]  # no .tmp leftovers
    assert tree(dirs["home"]) == {} and tree(dirs["tmp"]) == {} and tree(dirs["work"]) == {}
    assert sorted(p.name for p in clips.iterdir()) == ["first.wav", "second.wav", "third.wav"]
    assert tree(tiny_checkpoint) == checkpoint_before
    assert (dirs["log"] / "loaded").exists() and not (dirs["log"] / "network").exists()
