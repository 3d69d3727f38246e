"""Batch generation: clips batched per pass, manifests and folders, resume, bad clips, sharding over 2 processes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from backend.batching import ClipRequest, bucket_frames, generate_batch, plan_batches
from backend.batch_run import Job, shard
from backend.cli import main
from backend.model.config import preset, scheduler_preset
from backend.motion.motion import Motion
from backend.pipeline import GesturePipeline
from model_samples import perturb

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def pipe():
    """A tiny pipeline with random (non-zero) weights, so its output depends on audio, style and seed."""
    pipe = GesturePipeline.from_config(preset("tiny"), seed=0, scheduler=scheduler_preset("tiny"))
    perturb(pipe.model)
    return pipe


@pytest.fixture(scope="module")
def checkpoint(pipe, tmp_path_factory):
    folder = tmp_path_factory.mktemp("ckpt")
    pipe.save_pretrained(folder)
    return folder


def wave(seconds: float, pitch: float = 180.0) -> np.ndarray:
    t = np.arange(int(seconds * 16000)) / 16000
    return (0.3 * np.sin(2 * np.pi * pitch * t) * (np.sin(2 * np.pi * 2 * t) > 0)).astype(np.float32)


def write_clip(path: Path, seconds: float, pitch: float = 180.0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, wave(seconds, pitch), 16000)
    return path


def test_a_clip_batched_with_others_equals_the_clip_alone(pipe):
    requests = [ClipRequest(wave(0.5, 150), seed=1), ClipRequest(wave(1.2, 220), seed=2, style=wave(0.7, 300)),
                ClipRequest(wave(1.9, 180), seed=3)]
    together = generate_batch(pipe, requests, steps=3, sampler="dpmsolver++")
    assert [m.num_frames for m in together] == [10, 24, 38]
    for request, motion in zip(requests, together):
        alone = generate_batch(pipe, [request], steps=3, sampler="dpmsolver++")[0]
        np.testing.assert_allclose(motion.rotations, alone.rotations, atol=1e-4)
        np.testing.assert_allclose(motion.root_positions, alone.root_positions, rtol=1e-4, atol=1e-3)  # cm
    other_seed = generate_batch(pipe, [ClipRequest(requests[0].wave, seed=9)], steps=3, sampler="dpmsolver++")[0]
    assert not np.allclose(other_seed.rotations, together[0].rotations, atol=1e-3)
    with pytest.raises(ValueError, match="different length buckets"):
        generate_batch(pipe, [ClipRequest(wave(0.5)), ClipRequest(wave(3.0))], steps=2)


def test_style_strength_in_a_batch_equals_the_clip_alone(pipe):
    requests = [ClipRequest(wave(0.5, 150), seed=1), ClipRequest(wave(1.2, 220), seed=2, style=wave(0.7, 300))]
    runs = {}
    for strength in (0.0, 1.0, 2.5):
        runs[strength] = generate_batch(pipe, requests, steps=3, sampler="dpmsolver++", style_scale=strength)
        for request, motion in zip(requests, runs[strength]):
            alone = generate_batch(pipe, [request], steps=3, sampler="dpmsolver++", style_scale=strength)[0]
            np.testing.assert_allclose(motion.rotations, alone.rotations, atol=1e-4)
    unstyled = generate_batch(pipe, [ClipRequest(requests[1].wave, seed=2)], steps=3, sampler="dpmsolver++")[0]
    np.testing.assert_allclose(runs[0.0][1].rotations, unstyled.rotations, atol=1e-4)  # strength 0: its own style
    assert not np.allclose(runs[2.5][1].rotations, runs[1.0][1].rotations, atol=1e-3)


def test_batches_share_a_bucket_respect_the_size_and_long_clips_go_alone():
    fps = 20.0
    assert bucket_frames(1, fps) == 40 and bucket_frames(40, fps) == 40 and bucket_frames(41, fps) == 80
    frames = [10, 30, 50, 20, 2000, 39, 45]
    batches = plan_batches(frames, fps, batch_size=2)
    assert sorted(i for b in batches for i in b) == list(range(len(frames)))
    assert [4] in batches  # 100 s: alone
    for b in batches:
        assert len(b) <= 2 and len({bucket_frames(frames[i], fps) for i in b}) == 1
    jobs = [Job(i, f"line {i}", Path(f"{i}.wav")) for i in range(5)]
    assert [j.index for j in shard(jobs, 0, 2)] == [0, 2, 4] and [j.index for j in shard(jobs, 1, 2)] == [1, 3]


def run_cli(*args) -> int:
    return main(["generate", *map(str, args), "--steps", "2", "--no-progress"])


def test_manifest_run_reports_bad_rows_and_clips_and_resumes(tmp_path, checkpoint, capsys):
    clips = tmp_path / "clips"
    write_clip(clips / "a.wav", 1.0)
    write_clip(clips / "b.wav", 1.4, 240)
    write_clip(clips / "style.wav", 0.8, 300)
    (clips / "broken.wav").write_bytes(b"RIFF this is not audio")
    manifest = tmp_path / "list.csv"
    manifest.write_text("audio,output,style,seed\n"
                        "clips/a.wav,,,3\n"
                        "clips/b.wav,named/bee.npz,clips/style.wav,\n"
                        "clips/broken.wav,,,\n"
                        "clips/missing.wav,,,\n"
                        "clips/a.wav,,,x\n"
                        "clips/a.wav,out/a.bvh,,\n")
    out = tmp_path / "out"
    assert run_cli("--manifest", manifest, "-o", out, "--checkpoint", checkpoint, "--batch-size", "4") == 1
    err = capsys.readouterr().err
    assert (out / "a.bvh").is_file() and (tmp_path / "named" / "bee.npz").is_file()
    assert Motion.load_npz(tmp_path / "named" / "bee.npz").num_frames == 28
    summary = {line.split()[0]: line.split()[1:] for line in err.splitlines() if line.split()[:1] in (["ok"], ["skipped"], ["failed"])}
    assert summary["ok"][:2] == ["2", str(20 + 28)] and summary["failed"][0] == "4" and summary["skipped"][0] == "0"
    assert "list.csv:4: " in err and "broken.wav" in err  # corrupt audio, named
    assert "list.csv:5: " in err and "missing.wav: file not found" in err
    assert "list.csv:6: seed 'x' is not a whole number" in err
    assert "list.csv:7: writes" in err and "like list.csv:2" in err

    stamps = {p: p.stat().st_mtime_ns for p in (out / "a.bvh", tmp_path / "named" / "bee.npz")}
    assert run_cli("--manifest", manifest, "-o", out, "--checkpoint", checkpoint) == 1
    err = capsys.readouterr().err
    assert [line.split()[1] for line in err.splitlines() if line.startswith(("ok ", "skipped "))] == ["0", "2"]
    assert all(p.stat().st_mtime_ns == t for p, t in stamps.items())


def test_jsonl_manifest_seeds_reproduce_and_batch_size_does_not_matter(tmp_path, checkpoint, capsys):
    for i in range(3):
        write_clip(tmp_path / f"c{i}.wav", 0.6 + 0.4 * i, 150 + 40 * i)
    rows = [{"audio": f"c{i}.wav", "output": f"o/c{i}.npz", "seed": 5} for i in range(3)]
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("\n".join(json.dumps(r) for r in rows) + "\n\nnot json\n")
    assert run_cli("--manifest", manifest, "--checkpoint", checkpoint, "--batch-size", "3") == 1
    assert "m.jsonl:5: not valid JSON" in capsys.readouterr().err
    batched = [Motion.load_npz(tmp_path / "o" / f"c{i}.npz") for i in range(3)]
    shutil.rmtree(tmp_path / "o")
    assert run_cli("--manifest", manifest, "--checkpoint", checkpoint, "--batch-size", "1") == 1
    for i, motion in enumerate(batched):
        alone = Motion.load_npz(tmp_path / "o" / f"c{i}.npz")
        assert alone.num_frames == motion.num_frames == round((0.6 + 0.4 * i) * 20)
        np.testing.assert_allclose(alone.rotations, motion.rotations, atol=1e-4)


def test_folder_run_mirrors_sub_folders(tmp_path, checkpoint, capsys):
    write_clip(tmp_path / "in" / "x.wav", 0.5)
    write_clip(tmp_path / "in" / "day2" / "x.wav", 0.7)
    assert run_cli(tmp_path / "in", "-o", tmp_path / "out", "--checkpoint", checkpoint, "--format", "both") == 0
    for rel, frames in (("x", 10), ("day2/x", 14)):
        assert (tmp_path / "out" / f"{rel}.bvh").is_file()
        assert Motion.load_npz(tmp_path / "out" / f"{rel}.npz").num_frames == frames
    assert "ok" in capsys.readouterr().err


def test_empty_folder_and_bad_manifest_are_clear_errors(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert run_cli(tmp_path / "empty", "-o", tmp_path / "out") == 1
    assert "no .wav/.flac/.ogg files" in capsys.readouterr().err
    (tmp_path / "m.csv").write_text("file,seed\na.wav,1\n")
    assert run_cli("--manifest", tmp_path / "m.csv", "-o", tmp_path / "out") == 1
    assert "'audio' among them" in capsys.readouterr().err


def test_accelerate_launch_shards_a_manifest_over_two_cpu_processes(tmp_path, checkpoint):
    """`accelerate launch` with 2 processes: each takes every other clip; the main process sums up all 5."""
    for i in range(5):
        write_clip(tmp_path / f"c{i}.wav", 0.5 + 0.1 * i)
    (tmp_path / "m.csv").write_text("audio\n" + "".join(f"c{i}.wav\n" for i in range(5)))
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
           "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", "0",
           "-m", "backend", "generate", "--manifest", str(tmp_path / "m.csv"), "-o", str(tmp_path / "out"),
           "--checkpoint", str(checkpoint), "--steps", "2", "--no-progress", "--device", "cpu"]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [f"c{i}.bvh" for i in range(5)]
    summary = [line for line in proc.stderr.splitlines() if line.startswith(("ok ", "total "))]
    assert summary[0].split()[:2] == ["ok", "5"] and "on 2 process(es)" in summary[1], proc.stderr[-3000:]


def test_manifest_outputs_keep_every_dot_of_the_name_and_a_bad_row_is_its_own(tmp_path):
    from backend.batch_run import read_manifest

    manifest = tmp_path / "takes.csv"
    manifest.write_text("audio,output\na.wav,out/talk.v2.bvh\nb.wav,out/take 3.final.npz\nc.wav,out/Zoë.réplique.npz\n",
                        encoding="utf-8")
    jobs = read_manifest(manifest, None, None, 0)
    assert [[p.name for p in j.outputs] for j in jobs] == [["talk.v2.bvh"], ["take 3.final.npz"], ["Zoë.réplique.npz"]]
    assert all(j.problem is None for j in jobs)
    bvh_only = read_manifest(manifest, None, "bvh", 0)  # a .npz name with --format bvh: those rows, not the run
    assert [j.problem is None for j in bvh_only] == [True, False, False]
    assert "--format bvh" in bvh_only[1].problem
