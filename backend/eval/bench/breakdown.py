"""Where a Mamba-2 denoiser call's time goes at short lengths: DiT (SDPA), Mamba-2, and Mamba-2
with its scans skipped, call for call in alternating rounds, process CPU time, one thread.

Why: at 200-400 frames the Mamba-2 denoiser still needs more CPU time than DiT's, and the mixer
timed alone does not say why (its scan takes about half as long alone as inside the denoiser,
where the blocks' weights and activations pass through the same caches). Skipping only the scan
(zeros of the right shape from the SSD function) inside the real denoiser call prices it where it runs;
everything else (projections, convolution, norms, MLPs) is left as it is. Beside the times, the
multiply-adds of one block's mixer in matrix products (torch's FlopCounterMode, which leaves
element-wise work out): where the two mixers do the same arithmetic, only kernel efficiency can
make one faster.

``--mixers`` times one block's mixer alone instead: attention, Mamba-2 (shared layout), a
one-direction Mamba-2 (half the scans: what dropping bidirectionality would buy) and, with
``--compile``, the shared Mamba-2 under ``torch.compile`` (needs a C++ compiler; tens of seconds
to compile); ``--d-state N`` gives the Mamba-2 mixers a smaller state: the ceilings of the ways
left to speed up Mamba-2 at short lengths.

``python -m backend.eval.bench.breakdown [--mixers [--compile] [--d-state N]] [--frames 200 400 1000] [--rounds 10]`` prints a table and
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
from torch.utils.flop_counter import FlopCounterMode, sdpa_flop_count

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


def _cpu_flash_attention_flops(query_shape, key_shape, value_shape, *args, out_shape=None, **kwargs) -> int:
    return sdpa_flop_count(query_shape, key_shape, value_shape)


# FlopCounterMode knows the CUDA attention kernels; SDPA on a CPU runs this one
CPU_ATTENTION_FLOPS = {torch.ops.aten._scaled_dot_product_flash_attention_for_cpu: _cpu_flash_attention_flops}


def mixer_multiply_adds(model, frames: int) -> int:
    """Multiply-adds in matrix products (projections, attention or SSD) of one call of the first
    block's mixer on ``frames`` frames, batch 1."""
    mixer = model.denoiser.blocks[0].mixer
    with torch.inference_mode(), FlopCounterMode(display=False, custom_mapping=CPU_ATTENTION_FLOPS) as counter:
        mixer(torch.zeros(1, frames, model.config.hidden))
    return counter.get_total_flops() // 2


def breakdown(frames_list: list[int], rounds: int, calls: int = 3, preset: str = "small") -> dict:
    """{frames: {variant: median CPU ms per call over rounds, "multiply_adds": {"dit", "mamba2"}}}
    with the three variants alternating."""
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
        result[frames]["multiply_adds"] = {name: mixer_multiply_adds(model, frames) for name, model in models.items()}
    return result


def mixer_ceilings(frames_list: list[int], rounds: int, preset: str = "small", compiled: bool = False,
                   calls: int = 10, d_state: int | None = None) -> dict:
    """{frames: {mixer: median CPU ms per call of one block's mixer alone}}, mixers alternating;
    ``d_state`` replaces the preset's in the Mamba-2 mixers (a model change, for what-ifs)."""
    mamba = {"mixer": "mamba2", **({"d_state": d_state} if d_state else {})}
    models = {"attention": random_model(preset, mixer="attention")[0].model,
              "mamba2": random_model(preset, bidirectional_layout="shared", **mamba)[0].model,
              "mamba2_one_direction": random_model(preset, bidirectional=False, **mamba)[0].model}
    mixers = {name: model.denoiser.blocks[0].mixer for name, model in models.items()}
    if compiled:
        mixers["mamba2_compiled"] = torch.compile(mixers["mamba2"], dynamic=False)
    hidden = models["attention"].config.hidden
    result = {}
    with torch.no_grad():  # torch.compile'd modules refuse inference-mode tensors made outside them
        for frames in frames_list:
            x = torch.randn(1, frames, hidden, generator=torch.Generator().manual_seed(0))
            times = {name: [] for name in mixers}
            for name, mixer in mixers.items():
                try:
                    mixer(x)  # warm-up (and the compilation)
                except torch._dynamo.exc.BackendCompilerFailed as error:  # inductor fails on some graphs: say so, time the others
                    print(f"torch.compile failed at {frames} frames: {str(error).splitlines()[0]}", file=sys.stderr)
                    del times[name]
            for _ in range(rounds):
                for name in times:
                    mixer = mixers[name]
                    start = time.process_time()
                    for _ in range(calls):
                        mixer(x)
                    times[name].append((time.process_time() - start) / calls * 1e3)
            result[frames] = {name: statistics.median(t) for name, t in times.items()}
    return result


def format_ceilings(result: dict) -> str:
    names = list(dict.fromkeys(n for r in result.values() for n in r))
    rows = ["| frames | " + " | ".join(f"{n} ms (/ attention)" for n in names) + " |", "|---:|" + "---:|" * len(names)]
    for frames, r in result.items():
        rows.append(f"| {frames} | " + " | ".join(f"{r[n]:.2f} ({r[n] / r['attention']:.2f})" if n in r else "failed" for n in names) + " |")
    return "\n".join(rows)


def format_table(result: dict) -> str:
    rows = ["| frames | DiT (SDPA) ms | Mamba-2 ms | Mamba-2 without its scans ms | Mamba-2 / DiT | the scans' share of Mamba-2 "
            "| one mixer's multiply-adds, DiT / Mamba-2 (M) |",
            "|---:|---:|---:|---:|---:|---:|---:|"]
    for frames, r in result.items():
        macs = r["multiply_adds"]
        rows.append(f"| {frames} | {r['dit']:.1f} | {r['mamba2']:.1f} | {r['mamba2_without_scan']:.1f} | "
                    f"{r['mamba2'] / r['dit']:.2f} | {1 - r['mamba2_without_scan'] / r['mamba2']:.0%} | "
                    f"{macs['dit'] / 1e6:.1f} / {macs['mamba2'] / 1e6:.1f} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m backend.eval.bench.breakdown", description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, nargs="+", default=[200, 400, 1000])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--preset", default="small")
    parser.add_argument("--mixers", action="store_true", help="time one block's mixer alone: attention, Mamba-2, one-direction Mamba-2")
    parser.add_argument("--compile", action="store_true", help="with --mixers: also Mamba-2 under torch.compile (needs a C++ compiler)")
    parser.add_argument("--d-state", type=int, help="with --mixers: this d_state in the Mamba-2 mixers instead of the preset's")
    args = parser.parse_args(argv)
    if (args.compile or args.d_state) and not args.mixers:
        parser.error("--compile and --d-state go with --mixers")
    torch.set_num_threads(1)
    if args.mixers:
        result = mixer_ceilings(args.frames, args.rounds, args.preset, args.compile, d_state=args.d_state)
        print(format_ceilings(result))
        print(json.dumps({"threads": 1, "rounds": args.rounds, "d_state": args.d_state, "mixer_cpu_ms_per_call": result}))
        return 0
    result = breakdown(args.frames, args.rounds, preset=args.preset)
    print(format_table(result))
    print(json.dumps({"threads": 1, "rounds": args.rounds, "cpu_ms_per_call": result}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
