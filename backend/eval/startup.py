"""Start-up and whole-command benchmarks: what a user waits for, from a cold process.

Why apart from the per-call benchmarks: the 27.7x-faster-than-real-time figure of a warm denoiser
says nothing about the 10 s a user waits before the first frame. Two ``dimgesture bench`` sections:

- ``startup``: ``python -m backend.eval.startup`` in several cold processes, each timing ``import
  torch``, the backend's generation imports, the checkpoint load and the first 2 s clip, and naming
  the heavy libraries that got imported on the way (there should be none); medians.
- ``scale``: the ``dimgesture generate`` command line on 10, 60 and 600 s of speech from a cold
  process, a 100-clip manifest in one command, and the first and second Generate in Blender
  (``scripts/bench_blender_generate.py``, the bpy wheel), cold and after a warm start.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ..audio import SPEECH_SAMPLE_RATE

REPO = Path(__file__).resolve().parents[2]
HEAVY = ("diffusers", "scipy", "transformers", "matplotlib", "accelerate", "torch._dynamo")
# Per bench mode: cold processes for the start-up breakdown, CLI clip lengths, the batch, Blender's clip.
SETTINGS = {
    "full": dict(startup_runs=5, cli_seconds=[10.0, 60.0, 600.0], batch_clips=100, batch_clip_seconds=3.0, blender_seconds=10.0),
    "quick": dict(startup_runs=3, cli_seconds=[10.0, 60.0], batch_clips=20, batch_clip_seconds=3.0, blender_seconds=10.0),
    "tiny": dict(startup_runs=2, cli_seconds=[2.0], batch_clips=4, batch_clip_seconds=1.0, blender_seconds=2.0),
}


def probe(checkpoint: str | None, clip_seconds: float = 2.0) -> dict:
    """In this (fresh) process: seconds for each start-up stage, and which heavy modules were imported."""
    t0 = time.perf_counter()
    import torch

    t1 = time.perf_counter()
    import backend.generate  # noqa: F401  (the command's own imports)
    from backend.motion.bvh import write_bvh  # noqa: F401
    from backend.pipeline import GesturePipeline

    t2 = time.perf_counter()
    pipe = GesturePipeline.from_pretrained(checkpoint, "cpu")
    t3 = time.perf_counter()
    pipe(speech(clip_seconds), seed=0)
    t4 = time.perf_counter()
    return {"import_torch_s": t1 - t0, "backend_imports_s": t2 - t1, "load_s": t3 - t2, "first_call_s": t4 - t3,
            "heavy_modules": sorted(m for m in HEAVY if m in sys.modules), "threads": torch.get_num_threads()}


def speech(seconds: float):
    """The bundled demo speech, looped or cut to ``seconds`` at 16 kHz."""
    import numpy as np

    from backend.audio import load_audio

    wave = load_audio(REPO / "assets" / "demo_speech.wav", SPEECH_SAMPLE_RATE)
    return np.resize(wave, int(round(seconds * SPEECH_SAMPLE_RATE))).astype(np.float32)


def _env(threads: int) -> dict:
    return dict(os.environ, OMP_NUM_THREADS=str(threads), PYTHONPATH=str(REPO))


def bench_startup(checkpoint: Path | None, settings: dict, threads: int, log) -> dict:
    """Medians over cold processes of each start-up stage, and the process's wall time."""
    cmd = [sys.executable, "-m", "backend.eval.startup"] + ([str(checkpoint)] if checkpoint else [])
    runs = []
    for _ in range(settings["startup_runs"]):
        start = time.perf_counter()
        proc = subprocess.run(cmd, cwd=REPO, env=_env(threads), capture_output=True, text=True, timeout=600)
        wall = time.perf_counter() - start
        if proc.returncode != 0:
            raise RuntimeError(f"start-up probe failed: {proc.stderr.strip().splitlines()[-1:]}")
        runs.append({**json.loads(proc.stdout.strip().splitlines()[-1]), "process_s": wall})
    keys = ("import_torch_s", "backend_imports_s", "load_s", "first_call_s", "process_s")
    result = {"runs": runs, "median": {k: statistics.median(r[k] for r in runs) for k in keys},
              "heavy_modules": sorted({m for r in runs for m in r["heavy_modules"]}), "threads": threads}
    m = result["median"]
    result["over_import_torch_s"] = m["backend_imports_s"] + m["load_s"]
    log(f"  import torch {m['import_torch_s']:.2f} s, backend imports {m['backend_imports_s']:.2f} s, checkpoint "
        f"{m['load_s']:.2f} s, first 2 s clip {m['first_call_s']:.2f} s; process {m['process_s']:.2f} s "
        f"(medians of {len(runs)}); heavy modules imported: {', '.join(result['heavy_modules']) or 'none'}")
    return result


def _cli(args: list[str], threads: int, timeout: float = 3600) -> tuple[float, subprocess.CompletedProcess]:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "backend", *args], cwd=REPO, env=_env(threads), capture_output=True,
                          text=True, timeout=timeout)
    return time.perf_counter() - start, proc


def bench_scale(checkpoint: Path | None, settings: dict, threads: int, log) -> dict:
    """The command line from cold on several clip lengths, a manifest of many clips, and Blender's Generate."""
    import soundfile as sf

    ck = ["--checkpoint", str(checkpoint)] if checkpoint else []
    out: dict = {"threads": threads, "cli": [], "batch": None}
    with tempfile.TemporaryDirectory(prefix="dimgesture-bench-") as tmp:
        tmp = Path(tmp)
        for seconds in settings["cli_seconds"]:
            clip = tmp / f"speech-{seconds:g}s.wav"
            sf.write(clip, speech(seconds), SPEECH_SAMPLE_RATE)
            wall, proc = _cli(["generate", str(clip), "-o", str(tmp / f"{clip.stem}.bvh"), "--no-progress", *ck], threads)
            if proc.returncode != 0:
                raise RuntimeError(f"generate failed: {proc.stderr.strip().splitlines()[-1:]}")
            out["cli"].append({"speech_seconds": seconds, "wall_s": wall, "real_time_factor": wall / seconds})
            log(f"  dimgesture generate, {seconds:g} s of speech, cold: {wall:.1f} s wall ({wall / seconds:.3f} x real time)")
        n, length = settings["batch_clips"], settings["batch_clip_seconds"]
        rows = []
        for i in range(n):
            clip = tmp / "batch" / f"clip{i:04d}.wav"
            clip.parent.mkdir(exist_ok=True)
            seconds = length * (0.5 + (i % 5) / 4)  # 0.5x to 1.5x the nominal length: several buckets
            sf.write(clip, speech(seconds), SPEECH_SAMPLE_RATE)
            rows.append(f"batch/{clip.name},out/{clip.stem}.bvh,,{i}\n")
        (tmp / "manifest.csv").write_text("audio,output,style,seed\n" + "".join(rows))
        wall, proc = _cli(["generate", "--manifest", str(tmp / "manifest.csv"), "--no-progress", *ck], threads)
        if proc.returncode != 0:
            raise RuntimeError(f"batch generate failed: {proc.stderr.strip().splitlines()[-8:]}")
        speech_total = sum(length * (0.5 + (i % 5) / 4) for i in range(n))
        out["batch"] = {"clips": n, "speech_seconds": speech_total, "wall_s": wall, "clips_per_s": n / wall,
                        "summary": [line for line in proc.stderr.splitlines() if line.split()[:1] in (["ok"], ["failed"])]}
        log(f"  manifest of {n} clips ({speech_total:g} s of speech), one command: {wall:.1f} s wall, {n / wall:.2f} clips/s")
    out["blender"] = bench_blender(checkpoint, settings["blender_seconds"], threads, log)
    return out


def bench_blender(checkpoint: Path | None, seconds: float, threads: int, log) -> dict:
    """First and second Generate in Blender (bpy wheel), cold and after a warm start, in a child process."""
    script = REPO / "scripts" / "bench_blender_generate.py"
    cmd = [sys.executable, str(script), "--seconds", str(seconds)] + (["--checkpoint", str(checkpoint)] if checkpoint else [])
    try:
        proc = subprocess.run(cmd, cwd=REPO, env=_env(threads), capture_output=True, text=True, timeout=1800)
    except subprocess.TimeoutExpired:
        return {"skipped": "Blender benchmark took longer than 1800 s"}
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        return {"skipped": f"Blender benchmark failed: {(proc.stderr.strip().splitlines() or ['no output'])[-1]}"}
    result = json.loads(lines[-1])
    log(f"  Blender Generate, {seconds:g} s clip: first {result['first_s']:.1f} s, second {result['second_s']:.1f} s, "
        f"first after a warm start {result['warm_first_s']:.1f} s (warm-up took {result['warm_up_s']:.1f} s before it)")
    return result


def markdown(results: dict) -> str:
    """Tables of the two sections for ``tables.md``."""
    parts = []
    startup = results.get("startup")
    if startup:
        m = startup["median"]
        parts += ["| stage (cold process, median) | seconds |", "|---|---|",
                  f"| import torch | {m['import_torch_s']:.2f} |", f"| backend imports | {m['backend_imports_s']:.2f} |",
                  f"| checkpoint load | {m['load_s']:.2f} |", f"| first call (2 s clip) | {m['first_call_s']:.2f} |",
                  f"| whole process | {m['process_s']:.2f} |",
                  f"| **start-up over import torch** (imports + load) | **{startup['over_import_torch_s']:.2f}** |", "",
                  f"Heavy modules imported on the way: {', '.join(startup['heavy_modules']) or 'none'}.", ""]
    scale = results.get("scale")
    if scale:
        parts += ["| command (cold process) | speech | wall s | x real time |", "|---|---|---|---|"]
        parts += [f"| dimgesture generate | {c['speech_seconds']:g} s | {c['wall_s']:.1f} | {c['real_time_factor']:.3f} |"
                  for c in scale["cli"]]
        b = scale["batch"]
        parts.append(f"| dimgesture generate --manifest ({b['clips']} clips) | {b['speech_seconds']:g} s | {b['wall_s']:.1f} | "
                     f"{b['wall_s'] / b['speech_seconds']:.3f} |")
        bl = scale["blender"]
        if "skipped" in bl:
            parts.append(f"\nBlender: skipped ({bl['skipped']}).")
        else:
            parts += ["", "| Blender Generate | seconds |", "|---|---|", f"| first (cold backend) | {bl['first_s']:.1f} |",
                      f"| second | {bl['second_s']:.1f} |", f"| first after a warm start | {bl['warm_first_s']:.1f} |"]
        parts.append("")
    return "\n".join(parts)


if __name__ == "__main__":
    print(json.dumps(probe(sys.argv[1] if len(sys.argv) > 1 else None)))
