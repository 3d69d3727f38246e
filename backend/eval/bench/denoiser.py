"""The ``scaling`` section: time and memory per denoiser call, AdaLN Mamba-2 vs the DiT baseline.

Both denoisers have the same width and depth; only the mixer differs. Seconds per call and the
rise of peak memory from 10 s to 20 min of motion, growth exponents from a log-log fit; attention
both as PyTorch runs it (a fused kernel) and as plain softmax(QKᵀ)V. Each variant runs in a child
process (``probe``) so that the process's peak resident memory belongs to it alone.

Then Mamba-2 vs DiT (SDPA) call for call, in rounds that alternate the two: on a shared machine
the load changes within minutes, so two figures measured a few minutes apart do not make a
ratio. Each round runs both denoisers over all sizes, and the ratio is taken within the round;
the result gives medians over rounds, for one and for two torch threads. Stored as
``mamba_vs_dit``, or run on its own: ``python -m backend.eval.bench.denoiser --rounds 3 --threads 1 2``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys

import numpy as np

from .repo import run_child

# Variants of the first measurement: name -> (mixer, attention backend, largest size run). The plain
# "math" attention materialises T x T scores per head (5.2 GB at 12,000 frames for the small preset),
# so it stops there: the machine is shared.
VARIANTS = {"mamba2": ("mamba2", None, None), "attention": ("attention", None, None),
            "attention_math": ("attention", "math", 12000)}
LABELS = {"mamba2": "AdaLN Mamba-2", "attention": "DiT, SDPA (flash kernel)", "attention_math": "DiT, plain softmax(QK^T)V"}
LARGE = 2000  # frames: the "large" exponents fit from here, past the one-time costs of short calls

# The alternating comparison, per preset: sizes (motion frames), rounds, torch thread counts.
FRAMES = {"small": [200, 400, 1000, 2000, 4000, 12000], "tiny": [64, 256]}
ROUNDS = {"small": 3, "tiny": 1}
THREADS = {"small": [1, 2], "tiny": [1]}
COMPARED = {"mamba2": None, "attention": None}  # mixer -> attention backend (None: SDPA as the model runs it)


def growth_exponent(frames, seconds) -> float:
    """Slope of log(time) over log(frames): 1 = linear, 2 = quadratic (NaN with < 2 points)."""
    n, t = np.asarray(frames, dtype=np.float64), np.asarray(seconds, dtype=np.float64)
    keep = (n > 0) & (t > 0) & np.isfinite(t)
    if keep.sum() < 2:
        return float("nan")
    return float(np.polyfit(np.log(n[keep]), np.log(t[keep]), 1)[0])


def run_probe(spec: dict, timeout: float) -> tuple[dict, list[dict], str | None]:
    """Run ``probe`` in a child process; returns (header, per-size results, problem or None)."""
    child = run_child(["-m", "backend.eval.bench.probe", json.dumps(spec)], timeout, spec.get("threads", 1))
    lines = child.records()
    if not lines:
        return {}, [], child.problem or "probe printed nothing"
    return lines[0], lines[1:], child.problem


def bench_scaling(mode: dict, threads: int, log) -> dict:
    """Mamba-2 vs attention denoisers: time per call and memory over sequence length, then the
    alternating comparison over the mode's sizes."""
    from ...pipeline import DEFAULT_FPS

    result = {"preset": mode["preset"], "fps": DEFAULT_FPS, "threads": threads, "batch": 1, "mixers": {}}
    for name, (mixer, backend, cap) in VARIANTS.items():
        frames = [n for n in mode["frames"] if cap is None or n <= cap]
        spec = {"preset": mode["preset"], "mixer": mixer, "attention_backend": backend, "frames": frames,
                "repeats": mode["repeats"], "threads": threads, "budget_s": mode["budget_s"], "max_call_s": mode["max_call_s"]}
        header, points, problem = run_probe(spec, timeout=8 * mode["max_call_s"] + 60)
        for p in points:
            log(f"  {name:14s} {p['frames']:6d} frames  {p['median_s'] * 1e3:9.1f} ms/call  (n={p['runs']})  "
                f"+{p['activation_mb']:8.1f} MB")
        if problem:
            log(f"  {name}: {problem}")
        large = [p for p in points if p["frames"] >= LARGE]
        result["mixers"][name] = {
            "label": LABELS[name],
            "params": header.get("params"),
            "base_rss_mb": header.get("rss_mb"),
            "points": points,
            "time_exponent": growth_exponent([p["frames"] for p in points], [p["median_s"] for p in points]),
            "time_exponent_large": growth_exponent([p["frames"] for p in large], [p["median_s"] for p in large]),
            "memory_exponent_large": growth_exponent([p["frames"] for p in large], [p["activation_mb"] for p in large]),
            "problem": problem,
        }
    mamba = {p["frames"]: p for p in result["mixers"]["mamba2"]["points"]}
    result["ratios"] = []
    for n in sorted(mamba):
        row = {"frames": n}
        for name in VARIANTS:
            other = {p["frames"]: p for p in result["mixers"][name]["points"]}.get(n)
            if name != "mamba2" and other:
                row[f"time_{name}_over_mamba2"] = other["median_s"] / mamba[n]["median_s"]
                row[f"memory_{name}_over_mamba2"] = other["activation_mb"] / max(mamba[n]["activation_mb"], 1e-9)
        result["ratios"].append(row)
    name = mode["preset"]
    frames = [n for n in FRAMES.get(name, mode["frames"]) if n <= max(mode["frames"])]
    result["mamba_vs_dit"] = compare_denoisers(name, frames, THREADS.get(name, [1]), ROUNDS.get(name, 1), log,
                                               budget_s=mode["budget_s"], max_call_s=mode["max_call_s"])
    return result


def compare_denoisers(preset: str, frames: list[int], threads: list[int], rounds: int, log,
                      repeats: int = 3, budget_s: float = 10.0, max_call_s: float = 150.0) -> dict:
    """Alternate the two denoisers for ``rounds`` rounds per thread count; medians and in-round ratios."""
    result = {"preset": preset, "frames": frames, "rounds": rounds, "batch": 1, "by_threads": {}}
    for n_threads in threads:
        runs = {name: [] for name in COMPARED}  # name -> per round {frames: point}
        problems = []
        for r in range(rounds):
            for name, backend in COMPARED.items():
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
        for name in COMPARED:
            pts = [(s["frames"], s[f"{name}_s"]) for s in sizes]
            large = [p for p in pts if p[0] >= LARGE]
            exponents[name] = {"all": growth_exponent(*zip(*pts)) if len(pts) > 1 else float("nan"),
                               "from_2000": growth_exponent(*zip(*large)) if len(large) > 1 else float("nan")}
        result["by_threads"][str(n_threads)] = {"sizes": sizes, "time_exponents": exponents, "problems": problems,
                                                "raw": {k: [{str(n): p for n, p in rnd.items()} for rnd in v] for k, v in runs.items()}}
    return result


def main(argv: list[str]) -> int:
    from .report import comparison, render

    parser = argparse.ArgumentParser(prog="python -m backend.eval.bench.denoiser", description=__doc__.split("\n\n")[2])
    parser.add_argument("--preset", default="small", choices=sorted(FRAMES))
    parser.add_argument("--frames", type=int, nargs="+", help="sizes (default: the preset's)")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", help="also write the result here")
    args = parser.parse_args(argv)
    result = compare_denoisers(args.preset, args.frames or FRAMES[args.preset], args.threads, args.rounds,
                               lambda text: print(text, flush=True))
    print(render(comparison(result), "markdown"))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
