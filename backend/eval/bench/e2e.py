"""The ``e2e`` section: the real-time factor of the whole pipeline call, and keyframe writing in Blender.

Why both: a user waits for the model and then for the keys; 60 s of speech to a ``Motion`` says
nothing about the seconds Blender needs to key 75 joints x 6,000 frames (``scripts/bench_keyframes.py``,
run with this Python, which has the bpy wheel, in a child process: the backend never imports bpy).
"""

from __future__ import annotations

import statistics
import time

from .repo import REPO, run_child, shown
from .speech import speech

KEYFRAME_SCRIPT = REPO / "scripts" / "bench_keyframes.py"
KEYFRAME_TIMEOUT_S = 600


def bench_end_to_end(pipe, label: str, mode: dict, log) -> dict:
    """Real-time factor of the whole pipeline call, and of the frontend alone."""
    seconds = mode["e2e_seconds"]
    wave = speech(seconds)
    frontend, total = [], []
    for seed in range(mode["e2e_repeats"]):
        start = time.perf_counter()
        pipe.frontend_features(wave)
        frontend.append(time.perf_counter() - start)
        start = time.perf_counter()
        pipe(wave, seed=seed)
        total.append(time.perf_counter() - start)
    result = {"model": label, "speech_seconds": seconds, "sampler": pipe.scheduler.config.sampler, "steps": pipe.scheduler.config.steps,
              "frontend_s": statistics.median(frontend), "total_s": statistics.median(total), "times_s": total,
              "rtf": statistics.median(total) / seconds}
    log(f"  {seconds:.0f} s of speech: {result['total_s']:.2f} s (frontend {result['frontend_s']:.3f} s), "
        f"RTF {result['rtf']:.3f} ({result['sampler']} {result['steps']} steps)")
    return result


def bench_keyframes(frames: int, log) -> dict:
    """Keyframe writing in Blender, in a child process; ``{"skipped": why}`` when it could not run."""
    if not KEYFRAME_SCRIPT.is_file():
        return {"skipped": f"{shown(KEYFRAME_SCRIPT)} not found"}
    child = run_child([str(KEYFRAME_SCRIPT), "--frames", str(frames)], KEYFRAME_TIMEOUT_S)
    if child.failure():
        return {"skipped": f"keyframe benchmark failed: {child.failure()}"}
    result = child.records()[-1]
    log(f"  keyframes: {result['joints']} joints x {result['frames']} frames = {result['keys']} keys: "
        f"retarget {result['retarget_s']:.2f} s, keying {result['apply_s']:.2f} s")
    return result
