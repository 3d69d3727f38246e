"""Time and peak memory of denoiser calls; run by ``dimgesture bench`` in a child process on CPU.

Why a child process: on CPU the only trustworthy peak-memory figure for torch is the process's
maximum resident set size (tracemalloc does not see torch's allocator), and it can only be
attributed to one model when the process runs nothing else. Sizes run in ascending order, and
each size reports the rise of the peak above the resident memory just before its first call
(``activation_mb``): the transient memory of one denoiser call. On CUDA the same function runs
in-process and reads ``torch.cuda.max_memory_allocated`` instead.

Usage: ``python -m backend.eval.bench.probe '{"preset": "small", "mixer": "attention", "frames": [200, 2000]}'``
prints one JSON object per size, as soon as it is measured. The model is the preset with random
weights (``models.random_model``): time and memory do not depend on the weights.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import statistics
import sys
import time
from typing import Callable, Iterator

import torch

from ...model.gesture import GestureModel
from .models import random_model

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def peak_rss_mb() -> float:
    """The process's maximum resident set size so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def rss_mb() -> float:
    """The process's resident set size now."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def timed_runs(call: Callable[[], object], repeats: int, budget_s: float, sync: Callable[[], None],
               cpu_times: list[float] | None = None) -> list[float]:
    """Wall times of ``call`` after one untimed warm-up; stops early once ``budget_s`` is spent.

    A warm-up slower than the budget is kept as the only run (very long sizes are run once).
    ``cpu_times``, if given, receives the process CPU time of each returned run (on a shared
    machine, with one thread, the time the call itself needed, whatever else ran beside it).
    """
    sync()
    start, cpu = time.perf_counter(), time.process_time()
    call()
    sync()
    warm = time.perf_counter() - start
    if warm > budget_s:
        if cpu_times is not None:
            cpu_times.append(time.process_time() - cpu)
        return [warm]
    times: list[float] = []
    spent = 0.0
    while len(times) < repeats and (not times or spent < budget_s):
        start, cpu = time.perf_counter(), time.process_time()
        call()
        sync()
        times.append(time.perf_counter() - start)
        if cpu_times is not None:
            cpu_times.append(time.process_time() - cpu)
        spent += times[-1]
    return times


def measure_denoiser(
    model: GestureModel,
    frames_list: list[int],
    repeats: int = 3,
    device: str = "cpu",
    dtype: str = "float32",
    budget_s: float = 30.0,
    max_call_s: float = 120.0,
    attention_backend: str | None = None,
) -> Iterator[dict]:
    """One result per size: median seconds per denoiser call (batch 1) and peak memory.

    The audio latent is random (computed once per clip in real sampling, so not part of a step).
    Stops after a size whose single call took longer than ``max_call_s``. ``attention_backend``
    ``"math"`` forces PyTorch's plain softmax(QKᵀ)V attention (the T×T matrix is materialised, as
    in a straightforward Transformer); None lets PyTorch pick (a memory-efficient flash kernel).
    """
    cfg = model.config
    cuda = device.startswith("cuda")
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    autocast = torch.autocast(device_type="cuda" if cuda else "cpu", dtype=DTYPES[dtype], enabled=dtype != "float32")
    if attention_backend == "math":
        from torch.nn.attention import SDPBackend, sdpa_kernel

        backend = lambda: sdpa_kernel(SDPBackend.MATH)  # noqa: E731
    elif attention_backend is None:
        backend = contextlib.nullcontext
    else:
        raise ValueError(f"unknown attention backend {attention_backend!r}")
    generator = torch.Generator().manual_seed(0)
    with torch.inference_mode(), autocast, backend():  # one-time initialisation is no cost of any size
        model.denoise(torch.zeros(1, 16, cfg.pose_dim, device=device), torch.tensor([500], device=device),
                      torch.zeros(1, 16, cfg.hidden, device=device))
    for frames in frames_list:
        x = torch.randn(1, frames, cfg.pose_dim, generator=generator).to(device)
        latent = torch.randn(1, frames, cfg.hidden, generator=generator).to(device)
        t = torch.tensor([500], device=device)
        if cuda:
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
            base = torch.cuda.memory_allocated() / 2**20
        else:
            base = rss_mb()
        cpu_times: list[float] = []
        with torch.inference_mode(), autocast, backend():
            times = timed_runs(lambda: model.denoise(x, t, latent), repeats, budget_s, sync, cpu_times)
        peak = torch.cuda.max_memory_allocated() / 2**20 if cuda else peak_rss_mb()
        yield {
            "frames": frames,
            "median_s": statistics.median(times),
            "times_s": times,
            "cpu_median_s": statistics.median(cpu_times),
            "runs": len(times),
            "peak_mb": peak,
            "activation_mb": max(peak - base, 0.0),
        }
        del x, latent
        if max(times) > max_call_s:
            return


def main(argv: list[str]) -> int:
    spec = json.loads(argv[0])
    torch.set_num_threads(int(spec.get("threads", 1)))
    model = random_model(spec["preset"], spec.get("device", "cpu"), mixer=spec["mixer"], **spec.get("overrides", {}))[0].model
    params = sum(p.numel() for p in model.denoiser.parameters())
    print(json.dumps({"params": params, "rss_mb": rss_mb()}), flush=True)
    for result in measure_denoiser(model, spec["frames"], spec.get("repeats", 3), spec.get("device", "cpu"),
                                   spec.get("dtype", "float32"), spec.get("budget_s", 30.0), spec.get("max_call_s", 120.0),
                                   spec.get("attention_backend")):
        print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
