"""``dimgesture bench``: its arguments, its modes, and the order the sections run in.

Sections (``--sections``, default all CPU ones): ``scaling`` (``denoiser``), ``samplers``, ``e2e``,
``startup``, ``scale``; ``--gpu`` runs the ``gpu`` section alone (CUDA only). Results go to
``OUT/bench.json`` (``bench-gpu.json`` for the GPU section), ``tables.md`` and PNG plots; sections
not run this time keep their previous results in the JSON. The sampler, end-to-end and cold-process
model is ``--checkpoint`` (default: the bundled demo), loaded as ``dimgesture generate`` loads it;
``--tiny`` without ``--checkpoint`` uses a random tiny model, and its results say so.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from ...errors import DimGestureError
from . import models, report
from .repo import REPO

SECTIONS = ("scaling", "samplers", "e2e", "startup", "scale")  # --gpu runs "gpu" instead
TINY_DEFAULT = ("scaling", "samplers", "e2e")  # the smoke test skips the cold-process sections unless asked

# What each mode measures. Frames are motion frames of the preset (200 = 10 s, 12,000 = 10 min).
MODES = {
    "full": dict(preset="small", frames=[200, 600, 2000, 6000, 12000, 24000], repeats=3, budget_s=20.0, max_call_s=150.0,
                 clip_seconds=10.0, seeds=3, reference_steps=1000, grid={"ddim": [10, 25, 50], "dpmsolver++": [5, 10, 20, 25]},
                 e2e_seconds=60.0, e2e_repeats=2, key_frames=6000,
                 startup_runs=5, cli_seconds=[10.0, 60.0, 600.0], batch_clips=100, batch_clip_seconds=3.0, blender_seconds=10.0),
    "quick": dict(preset="small", frames=[200, 800, 2000], repeats=3, budget_s=10.0, max_call_s=60.0,
                  clip_seconds=4.0, seeds=2, reference_steps=1000, grid={"ddim": [10, 25], "dpmsolver++": [10, 20]},
                  e2e_seconds=20.0, e2e_repeats=1, key_frames=6000,
                  startup_runs=3, cli_seconds=[10.0, 60.0], batch_clips=20, batch_clip_seconds=3.0, blender_seconds=10.0),
    # smoke test: tiny model, seconds in all
    "tiny": dict(preset="tiny", frames=[64, 256], repeats=2, budget_s=2.0, max_call_s=10.0,
                 clip_seconds=1.0, seeds=2, reference_steps=20, grid={"ddim": [5], "dpmsolver++": [5]},
                 e2e_seconds=3.0, e2e_repeats=1, key_frames=100,
                 startup_runs=2, cli_seconds=[2.0], batch_clips=4, batch_clip_seconds=1.0, blender_seconds=2.0),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true", help="fewer sizes, shorter clips (a few minutes on 2 CPU cores)")
    parser.add_argument("--tiny", action="store_true", help="smoke test: the tiny preset, seconds in all")
    parser.add_argument("--gpu", action="store_true", help="run the GPU section (CUDA required) into bench-gpu.json")
    parser.add_argument("--sections", help=f"comma-separated subset of {','.join(SECTIONS)} (default: all; "
                        f"with --tiny: {','.join(TINY_DEFAULT)})")
    parser.add_argument("--checkpoint", type=Path, help="model for samplers, e2e, startup and scale (default: the bundled checkpoints/demo)")
    parser.add_argument("--data", type=Path, help="cache or corpus giving a held-out take with ground truth for the sampler "
                        "section (default: data/cache-demo if present, else the demo speech clip without ground truth)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1: stable figures on a shared machine)")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "benchmarks", help="output folder (default docs/benchmarks)")


def run(args: argparse.Namespace) -> int:
    import torch

    mode_name = "tiny" if args.tiny else "quick" if args.quick else "full"
    if args.gpu:
        if not torch.cuda.is_available():
            raise DimGestureError("--gpu: CUDA is not available in this torch build or on this machine")
        sections = ["gpu"]
    else:
        sections = args.sections.split(",") if args.sections else list(TINY_DEFAULT if args.tiny else SECTIONS)
        unknown = [s for s in sections if s not in SECTIONS]
        if unknown:
            raise DimGestureError(f"unknown bench section(s) {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
    threads_before = torch.get_num_threads()
    torch.set_num_threads(args.threads)
    try:
        return _run(args, mode_name, sections)
    finally:
        torch.set_num_threads(threads_before)


def _run(args: argparse.Namespace, mode_name: str, sections: list[str]) -> int:
    from .machine import machine_info
    from .plots import plot

    mode = MODES[mode_name]
    args.out.mkdir(parents=True, exist_ok=True)
    json_path = args.out / ("bench-gpu.json" if args.gpu else "bench.json")
    results = report.load(json_path, mode_name)
    command = "dimgesture bench" + (" --tiny" if args.tiny else " --quick" if args.quick else "") + (" --gpu" if args.gpu else "")
    log = lambda text: print(text, flush=True)  # noqa: E731
    model = None  # (pipeline, label) of the samplers and e2e sections, loaded once
    for section in sections:
        start = time.perf_counter()
        run_info = machine_info(args.threads)
        log(f"[{section}]")
        if section in ("samplers", "e2e") and model is None:
            model = _model(mode_name, args.checkpoint)
            log(f"  model: {model[1]}")
        result = _measure(section, mode_name, mode, args, model, log)
        report.record(results, section, result, command if args.gpu else f"{command} --sections {section}",
                      {**run_info, "seconds": time.perf_counter() - start, "load_average_end": list(os.getloadavg())})
        table = report.terminal(results, section)
        if table:
            log(table)
    plots = plot(results, args.out)
    if not args.gpu:
        (args.out / "tables.md").write_text(report.markdown(results) + "\n")
    report.save(json_path, results)
    log(f"wrote {json_path}" + (f" and {', '.join(plots)}" if plots else ""))
    return 0


def _model(mode_name: str, checkpoint: Path | None):
    """The checkpoint (default: the bundled demo); the smoke test without one: a random tiny model."""
    if mode_name == "tiny" and checkpoint is None:
        return models.random_model("tiny")
    return models.load(checkpoint)


def _measure(section: str, mode_name: str, mode: dict, args: argparse.Namespace, model, log) -> dict:
    if section == "scaling":
        from .denoiser import bench_scaling

        return bench_scaling(mode, args.threads, log)
    if section == "samplers":
        from .samplers import bench_samplers
        from .speech import default_data

        return bench_samplers(*model, mode, log, args.data or (None if args.tiny else default_data()))
    if section == "e2e":
        from .e2e import bench_end_to_end, bench_keyframes

        return {"pipeline": bench_end_to_end(*model, mode, log), "keyframes": bench_keyframes(mode["key_frames"], log)}
    if section == "gpu":
        from .gpu import bench_gpu

        return bench_gpu(log)
    from .scale import bench_scale
    from .startup import bench_startup

    measure = bench_startup if section == "startup" else bench_scale
    if args.checkpoint is not None or mode_name != "tiny":
        return measure(args.checkpoint, mode, args.threads, log)
    with models.random_checkpoint("tiny") as (folder, label):
        log(f"  model: {label}")
        return {**measure(folder, mode, args.threads, log), "model": label}
