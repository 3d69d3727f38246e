"""The ``startup`` section: what a user waits for before the first frame, from a cold process.

Why apart from the per-call benchmarks: a fast warm denoiser says nothing about the seconds a user
waits before the first frame. ``python -m backend.eval.bench.startup [CHECKPOINT]`` runs in several
cold processes, each timing ``import torch``, the backend's generation imports, the checkpoint load
and the first 2 s clip, and naming the heavy libraries that got imported on the way (there should
be none); the section reports medians.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

from .repo import run_child
from .speech import speech

HEAVY = ("diffusers", "scipy", "transformers", "matplotlib", "accelerate", "torch._dynamo")
FIRST_CLIP_S = 2.0
STAGES = ("import_torch_s", "backend_imports_s", "load_s", "first_call_s", "process_s")


def probe(checkpoint: str | None, clip_seconds: float = FIRST_CLIP_S) -> dict:
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


def bench_startup(checkpoint: Path | None, mode: dict, threads: int, log) -> dict:
    """Medians over cold processes of each start-up stage, and the process's wall time."""
    args = ["-m", "backend.eval.bench.startup"] + ([str(checkpoint)] if checkpoint else [])
    runs = []
    for _ in range(mode["startup_runs"]):
        child = run_child(args, 600, threads)
        if child.failure():
            raise RuntimeError(f"start-up probe failed: {child.failure()}")
        runs.append({**child.records()[-1], "process_s": child.seconds})
    result = {"runs": runs, "median": {k: statistics.median(r[k] for r in runs) for k in STAGES},
              "heavy_modules": sorted({m for r in runs for m in r["heavy_modules"]}), "threads": threads}
    m = result["median"]
    result["over_import_torch_s"] = m["backend_imports_s"] + m["load_s"]
    log(f"  import torch {m['import_torch_s']:.2f} s, backend imports {m['backend_imports_s']:.2f} s, checkpoint "
        f"{m['load_s']:.2f} s, first {FIRST_CLIP_S:g} s clip {m['first_call_s']:.2f} s; process {m['process_s']:.2f} s "
        f"(medians of {len(runs)}); heavy modules imported: {', '.join(result['heavy_modules']) or 'none'}")
    return result


if __name__ == "__main__":
    print(json.dumps(probe(sys.argv[1] if len(sys.argv) > 1 else None)))
