"""Mamba-2 vs the DiT (SDPA) denoiser, call for call, in rounds that alternate the two.

Why: on a shared machine the load changes within minutes, so two figures measured a few minutes
apart do not make a ratio. Each round runs the AdaLN Mamba-2 denoiser and then the DiT denoiser
(PyTorch's ``scaled_dot_product_attention``) over all sizes, each in its own child process
(``backend.eval.probe``: time per call and the rise of peak resident memory), and the ratio is
taken within the round; the report gives medians over rounds, for one and for two torch threads.

Run by ``dimgesture bench --sections scaling`` (its ``mamba_vs_dit`` entry) or on its own:
``python -m backend.eval.bench_denoiser --rounds 3 --threads 1 2``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys

# Sizes per preset (frames at 20 fps: 200 = 10 s of speech, 12,000 = 10 min).
FRAMES = {"small": [200, 400, 1000, 2000, 4000, 12000], "tiny": [64, 256]}
ROUNDS = {"small": 3, "tiny": 1}
THREADS = {"small": [1, 2], "tiny": [1]}
VARIANTS = {"mamba2": None, "attention": None}  # mixer -> attention backend (None: SDPA as the model runs it)


def compare_denoisers(preset: str, frames: list[int], threads: list[int], rounds: int, log,
                      repeats: int = 3, budget_s: float = 10.0, max_call_s: float = 150.0) -> dict:
    """Alternate the two denoisers for ``rounds`` rounds per thread count; medians and in-round ratios."""
    from .bench import growth_exponent, run_probe

    result = {"preset": preset, "frames": frames, "rounds": rounds, "batch": 1, "by_threads": {}}
    for n_threads in threads:
        runs = {name: [] for name in VARIANTS}  # name -> per round {frames: point}
        problems = []
        for r in range(rounds):
            for name, backend in VARIANTS.items():
                spec = {"preset": preset, "mixer": name, "attention_backend": backend, "frames": frames, "repeats": repeats,
                        "threads": n_threads, "budget_s": budget_s, "max_call_s": max_call_s}
                header, points, problem = run_probe(spec, timeout=8 * max_call_s + 60)
                runs[name].append({p["frames"]: p for p in points})
                if problem:
                    problems.append(f"{name}, round {r + 1}: {problem}")
                log(f"  {n_threads} thread(s), round {r + 1}, {name:9s}, load {os.getloadavg()[0]:.1f}: " + "  ".join(
                    f"{p['frames']}: {p['median_s'] * 1e3:.1f} ms" for p in points))
        sizes = []
        for n in frames:
            pairs = [(m[n], a[n]) for m, a in zip(runs["mamba2"], runs["attention"]) if n in m and n in a]
            if not pairs:
                continue
            sizes.append({
                "frames": n,
                "mamba2_s": statistics.median(m["median_s"] for m, _ in pairs),
                "attention_s": statistics.median(a["median_s"] for _, a in pairs),
                "mamba2_over_attention": statistics.median(m["median_s"] / a["median_s"] for m, a in pairs),
                "ratios": [m["median_s"] / a["median_s"] for m, a in pairs],
                # process CPU time: with one thread, what each call needed whatever else ran on the machine
                "mamba2_over_attention_cpu": statistics.median(m["cpu_median_s"] / a["cpu_median_s"] for m, a in pairs),
                "mamba2_mb": statistics.median(m["activation_mb"] for m, _ in pairs),
                "attention_mb": statistics.median(a["activation_mb"] for _, a in pairs),
                "rounds": len(pairs),
            })
        exponents = {}
        for name in VARIANTS:
            pts = [(s["frames"], s[f"{name}_s"]) for s in sizes]
            large = [p for p in pts if p[0] >= 2000]
            exponents[name] = {"all": growth_exponent(*zip(*pts)) if len(pts) > 1 else float("nan"),
                               "from_2000": growth_exponent(*zip(*large)) if len(large) > 1 else float("nan")}
        result["by_threads"][str(n_threads)] = {"sizes": sizes, "time_exponents": exponents, "problems": problems,
                                                "raw": {k: [{str(n): p for n, p in rnd.items()} for rnd in v] for k, v in runs.items()}}
    return result


def compare_for_bench(mode: dict, log) -> dict:
    """The comparison as ``dimgesture bench`` runs it: the mode's preset, sizes up to its largest."""
    preset = mode["preset"]
    frames = [n for n in FRAMES.get(preset, mode["frames"]) if n <= max(mode["frames"])]
    result = compare_denoisers(preset, frames, THREADS.get(preset, [1]), ROUNDS.get(preset, 1), log,
                               budget_s=mode["budget_s"], max_call_s=mode["max_call_s"])
    log(comparison_table(result))
    return result


def comparison_table(result: dict) -> str:
    """Markdown: per thread count, seconds per call, the in-round ratio, memory, exponents."""
    lines = []
    for n_threads, data in result["by_threads"].items():
        lines.append(f"{n_threads} torch thread(s), {result['preset']} preset, batch 1, medians over {result['rounds']} rounds:")
        lines.append("")
        lines.append("| frames | Mamba-2 s/call | DiT (SDPA) s/call | Mamba-2 / DiT time (per round) | DiT / Mamba-2 | "
                     "Mamba-2 / DiT CPU time | Mamba-2 MB/call | DiT MB/call |")
        lines.append("|---:|---:|---:|---:|---:|---:|---:|---:|")
        for s in data["sizes"]:
            per_round = ", ".join(f"{r:.2f}" for r in s["ratios"])
            lines.append(f"| {s['frames']:,} | {s['mamba2_s']:.4g} | {s['attention_s']:.4g} | **{s['mamba2_over_attention']:.2f}** "
                         f"({per_round}) | {1 / s['mamba2_over_attention']:.2f}x | {s['mamba2_over_attention_cpu']:.2f} | "
                         f"{s['mamba2_mb']:.0f} | {s['attention_mb']:.0f} |")
        e = data["time_exponents"]
        lines.append("")
        lines.append(f"Time exponents (all sizes / from 2,000 frames): Mamba-2 {e['mamba2']['all']:.2f} / "
                     f"{e['mamba2']['from_2000']:.2f}, DiT (SDPA) {e['attention']['all']:.2f} / {e['attention']['from_2000']:.2f}.")
        for problem in data["problems"]:
            lines.append(f"Problem: {problem}.")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m backend.eval.bench_denoiser", description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="small", choices=sorted(FRAMES))
    parser.add_argument("--frames", type=int, nargs="+", help="sizes (default: the preset's)")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", help="also write the result here")
    args = parser.parse_args(argv)
    result = compare_denoisers(args.preset, args.frames or FRAMES[args.preset], args.threads, args.rounds,
                               lambda text: print(text, flush=True))
    print(comparison_table(result))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
