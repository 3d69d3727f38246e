"""``make demo`` (scripts/demo.py) end to end with a tiny checkpoint: a .blend with keys and a BVH come out."""

import subprocess
import sys
from pathlib import Path

import pytest

from backend.motion.bvh import read_bvh

REPO_ROOT = Path(__file__).resolve().parents[2]
DEMO = REPO_ROOT / "scripts" / "demo.py"


@pytest.mark.slow
def test_demo_writes_a_keyed_blend_and_a_bvh(tiny_checkpoint, tmp_path):
    proc = subprocess.run([sys.executable, str(DEMO), "--checkpoint", str(tiny_checkpoint), "--out", str(tmp_path),
                           "--steps", "2", "--fps", "24", "--device", "CPU"], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert (tmp_path / "demo.blend").stat().st_size > 100_000
    bvh = read_bvh(tmp_path / "demo.bvh")
    motion = bvh.to_motion()
    # 16.5 s of speech: 330 frames at the model's 20 fps span 16.45 s; the backend resamples them to the scene's
    # 24 fps (frames 1..395), and the saved motion is what the scene was keyed from
    assert motion.num_frames == 395 and motion.fps == pytest.approx(24.0)
    assert "keyed as action 'demo_speech' on frames 1–395" in proc.stdout


def test_demo_says_what_is_missing(tmp_path):
    proc = subprocess.run([sys.executable, str(DEMO), "--checkpoint", str(tmp_path / "none"), "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert f"model checkpoint {tmp_path / 'none'} lacks config.json, model.safetensors, stats.safetensors" in proc.stderr
    assert not (tmp_path / "demo.blend").exists()
