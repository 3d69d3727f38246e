"""Where a Mamba-2 denoiser call's time goes at short lengths: DiT (SDPA), Mamba-2, and Mamba-2
with its scans skipped, call for call in alternating rounds, process CPU time, one thread.

Why: at 200-400 frames the Mamba-2 denoiser still needs more CPU time than DiT's, and the mixer
timed alone does not say why (its scan takes about half as long alone as inside the denoiser,
where the blocks' weights and activations pass through the same caches). Skipping only the scan
(zeros of the right shape from the SSD function) inside the real denoiser call prices it where it runs;
everything else (projections, convolution, norms, MLPs) is left as it is.

``python -m backend.eval.bench.breakdown [--frames 200 400 1000] [--rounds 10]`` prints a table and
one JSON line. Random ``small``-preset weights (speed does not depend on the weights).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import time

import torch

from .models import random_model

VARIANTS = ("dit", "mamba2", "mamba2_without_scan")


@contextlib.contextmanager
def scans_skipped(enabled: bool):
    """Inside: the SSD scans of ``SharedBidirectionalMamba2`` return zeros (their inputs are still
    gathered, and the rest of the mixer runs)."""
    from ...nn import shared_bidirectional

    originals = shared_bidirectional.ssd_scan, shared_bidirectional.ssd_bidirectional_quadratic

    def scan_zeros(x, dt, A, B, C, chunk_size=None, initial_state=None):
        return torch.zeros_like(x), x.new_zeros(x.shape[0], x.shape[2], x.shape[3], B.shape[3])

    if enabled:
        shared_bidirectional.ssd_scan = scan_zeros
        shared_bidirectional.ssd_bidirectional_quadratic = lambda x, *args: torch.zeros_like(x)
    try:
        yield
    finally:
        shared_bidirectional.ssd_scan, shared_bidirectional.ssd_bidirectional_quadratic = originals


def cpu_ms_per_call(model, frames: int, calls: int) -> float:
    """Mean process CPU milliseconds of ``calls`` denoiser calls on ``frames`` frames, after one warm-up."""
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(1, frames, model.config.pose_dim, generator=generator)
    latent = torch.randn(1, frames, model.config.hidden, generator=generator)
    t = torch.tensor([500])
    with torch.inference_mode():
        model.denoise(x, t, latent)
        start = time.process_time()
        for _ in range(calls):
            model.denoise(x, t, latent)
    return (time.process_time() - start) / calls * 1e3


def breakdown(frames_list: list[int], rounds: int, calls: int = 3, preset: str = "small") -> dict:
    """{frames: {variant: median CPU ms per call over rounds}} with the three variants alternating."""
    models = {"dit": random_model(preset, mixer="attention")[0].model,
              "mamba2": random_model(preset, mixer="mamba2", bidirectional_layout="shared")[0].model}
    result = {}
    for frames in frames_list:
        times = {v: [] for v in VARIANTS}
        for _ in range(rounds):
            for variant in VARIANTS:
                with scans_skipped(variant == "mamba2_without_scan"):
                    model = models["dit" if variant == "dit" else "mamba2"]
                    times[variant].append(cpu_ms_per_call(model, frames, calls))
        result[frames] = {v: statistics.median(t) for v, t in times.items()}
    return result


def format_table(result: dict) -> str:
    rows = ["| frames | DiT (SDPA) ms | Mamba-2 ms | Mamba-2 without its scans ms | Mamba-2 / DiT | the scans' share of Mamba-2 |",
            "|---:|---:|---:|---:|---:|---:|"]
    for frames, r in result.items():
        rows.append(f"| {frames} | {r['dit']:.1f} | {r['mamba2']:.1f} | {r['mamba2_without_scan']:.1f} | "
                    f"{r['mamba2'] / r['dit']:.2f} | {1 - r['mamba2_without_scan'] / r['mamba2']:.0%} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m backend.eval.bench.breakdown", description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, nargs="+", default=[200, 400, 1000])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--preset", default="small")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    result = breakdown(args.frames, args.rounds, preset=args.preset)
    print(format_table(result))
    print(json.dumps({"threads": 1, "rounds": args.rounds, "cpu_ms_per_call": result}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
