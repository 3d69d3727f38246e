"""The ``scale`` section: whole commands from a cold process, as a user runs them.

Why: per-call figures leave out start-up, audio loading, decoding and writing. Times the
``dimgesture generate`` command line on several clip lengths, a manifest of many clips in one
command, and the first and second Generate in Blender (``scripts/bench_blender_generate.py``, the
bpy wheel), cold and after the add-on's warm start.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from ...audio import SPEECH_SAMPLE_RATE
from .repo import REPO, run_child
from .speech import speech

BLENDER_SCRIPT = REPO / "scripts" / "bench_blender_generate.py"
COMMAND_TIMEOUT_S = 3600
BLENDER_TIMEOUT_S = 1800


def _generate(args: list[str], threads: int):
    """``dimgesture generate ARGS`` in a cold process; its ``Child`` (a failure raises)."""
    child = run_child(["-m", "backend", "generate", *args, "--no-progress"], COMMAND_TIMEOUT_S, threads)
    if child.problem:
        raise RuntimeError(f"dimgesture generate {' '.join(args[:2])}: {child.problem}")
    return child


def bench_scale(checkpoint: Path | None, mode: dict, threads: int, log) -> dict:
    """The command line from cold on several clip lengths, a manifest of many clips, and Blender's Generate."""
    import soundfile as sf

    ck = ["--checkpoint", str(checkpoint)] if checkpoint else []
    out: dict = {"threads": threads, "cli": [], "batch": None}
    with tempfile.TemporaryDirectory(prefix="dimgesture-bench-") as tmp:
        tmp = Path(tmp)
        for seconds in mode["cli_seconds"]:
            clip = tmp / f"speech-{seconds:g}s.wav"
            sf.write(clip, speech(seconds), SPEECH_SAMPLE_RATE)
            wall = _generate([str(clip), "-o", str(tmp / f"{clip.stem}.bvh"), *ck], threads).seconds
            out["cli"].append({"speech_seconds": seconds, "wall_s": wall, "real_time_factor": wall / seconds})
            log(f"  dimgesture generate, {seconds:g} s of speech, cold: {wall:.1f} s wall ({wall / seconds:.3f} x real time)")
        # 0.5x to 1.5x the nominal length: several length buckets
        lengths = [mode["batch_clip_seconds"] * (0.5 + (i % 5) / 4) for i in range(mode["batch_clips"])]
        (tmp / "batch").mkdir()
        rows = []
        for i, seconds in enumerate(lengths):
            sf.write(tmp / "batch" / f"clip{i:04d}.wav", speech(seconds), SPEECH_SAMPLE_RATE)
            rows.append(f"batch/clip{i:04d}.wav,out/clip{i:04d}.bvh,,{i}\n")
        (tmp / "manifest.csv").write_text("audio,output,style,seed\n" + "".join(rows))
        child = _generate(["--manifest", str(tmp / "manifest.csv"), *ck], threads)
        n, wall = len(lengths), child.seconds
        out["batch"] = {"clips": n, "speech_seconds": sum(lengths), "wall_s": wall, "clips_per_s": n / wall,
                        "summary": [line for line in child.stderr.splitlines() if line.split()[:1] in (["ok"], ["failed"])]}
        log(f"  manifest of {n} clips ({sum(lengths):g} s of speech), one command: {wall:.1f} s wall, {n / wall:.2f} clips/s")
    out["blender"] = bench_blender(checkpoint, mode["blender_seconds"], threads, log)
    return out


def bench_blender(checkpoint: Path | None, seconds: float, threads: int, log) -> dict:
    """First and second Generate in Blender (bpy wheel), cold and after a warm start, in a child process."""
    args = [str(BLENDER_SCRIPT), "--seconds", str(seconds)] + (["--checkpoint", str(checkpoint)] if checkpoint else [])
    child = run_child(args, BLENDER_TIMEOUT_S, threads)
    if child.failure():
        return {"skipped": f"Blender benchmark failed: {child.failure()}"}
    result = child.records()[-1]
    log(f"  Blender Generate, {seconds:g} s clip: first {result['first_s']:.1f} s, second {result['second_s']:.1f} s, "
        f"first after a warm start {result['warm_first_s']:.1f} s (warm-up took {result['warm_up_s']:.1f} s before it)")
    return result
