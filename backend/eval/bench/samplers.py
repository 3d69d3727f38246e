"""The ``samplers`` section: DDPM-1000 (the paper's sampler) vs DDIM and DPM-Solver++ at several step counts.

Why against DDPM-1000 and the real motion: fewer steps are only worth having if the motion stays
close to what the full sampler gives (and to the real motion of a held-out take, when one is
given), so each setting reports its wall time per clip next to the same metrics as ``dimgesture eval``.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from ...audio import SPEECH_SAMPLE_RATE
from ..evaluate import motion_metrics
from .speech import held_out_clip


def bench_samplers(pipe, label: str, mode: dict, log, data: Path | None = None) -> dict:
    """Wall time per clip and metrics of each sampler setting against DDPM with ``reference_steps``
    (and against the real motion when ``data`` gives a held-out take with ground truth)."""
    wave, real, strokes, clip = held_out_clip(data, pipe, mode["clip_seconds"])
    settings = [("ddpm", mode["reference_steps"])] + [(s, k) for s, steps in mode["grid"].items() for k in steps]
    runs = []
    reference = None
    for sampler, steps in settings:
        motions, times = [], []
        for seed in range(mode["seeds"]):
            start = time.perf_counter()
            motions.append(pipe(wave, seed=seed, sampler=sampler, steps=steps))
            times.append(time.perf_counter() - start)
        if reference is None:
            reference = motions
        metrics = motion_metrics([motions], [wave], None if strokes is None else [strokes],
                                 reference if motions is not reference else None)
        if real is not None:
            metrics["fd_positions_vs_truth"] = motion_metrics([motions], reference=[real])["fd_positions"]
        runs.append({"sampler": sampler, "steps": steps, "median_s": statistics.median(times), "times_s": times, "metrics": metrics})
        log(f"  {sampler:12s} {steps:5d} steps  {statistics.median(times):8.2f} s/clip  "
            f"FD vs reference {metrics.get('fd_positions', float('nan')):10.4g}  jerk {metrics['jerk_mean']:10.4g}")
    ref_time = runs[0]["median_s"]
    for r in runs:
        r["speedup_vs_reference"] = ref_time / r["median_s"]
    result = {"model": label, "clip": clip, "clip_seconds": len(wave) / SPEECH_SAMPLE_RATE, "seeds": mode["seeds"],
              "reference": f"ddpm-{mode['reference_steps']}", "runs": runs}
    if real is not None:
        result["ground_truth"] = motion_metrics([[real]], [wave], None if strokes is None else [strokes])
    return result
