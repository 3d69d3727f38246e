"""``dimgesture bench``: the paper's speed and memory claims, measured side by side in one run.

Sections (``--sections``, default all that apply):
- ``scaling``: AdaLN Mamba-2 vs the DiT (self-attention) baseline at the same width and depth:
  seconds per denoiser call and peak memory from 10 s to 20 min of motion, growth exponents
  from a log-log fit; attention both as PyTorch runs it (a fused kernel) and as plain
  softmax(QKᵀ)V. On CPU each variant runs in a child process (``probe``) so that the
  process's peak resident memory belongs to it alone.
- ``samplers``: DDPM-1000 (the paper's sampler) vs DDIM and DPM-Solver++ at several step counts:
  wall time per clip and metrics against the DDPM-1000 samples and, given a held-out take
  (``--data``, default ``data/cache-demo``), against its real motion.
- ``e2e``: real-time factor for 60 s of speech (frontend + sampling + decoding), and the time to
  write the keyframes of 75 joints x 6,000 frames in Blender (``scripts/bench_keyframes.py``,
  run with this Python, which has the bpy wheel).
- ``startup`` and ``scale`` (``startup.py``): the start-up breakdown of cold processes (import torch,
  backend imports, checkpoint, first call), and whole commands from cold: ``dimgesture generate`` on
  10/60/600 s of speech, a 100-clip manifest, the first and second Generate in Blender.
- ``gpu`` (``--gpu``, CUDA only): the ``paper`` preset (12 x 1280) with the mamba-ssm kernel when it
  imports, fp32/bf16/fp16, a WavLM-Large-sized random frontend, and the real-time factor.
Results go to ``OUT/bench.json`` (``bench-gpu.json`` for the GPU section) and PNG plots; sections
not run this time keep their previous results in the JSON. The sampler and end-to-end model is
``--checkpoint`` (default: the bundled demo); ``--tiny`` alone uses a random tiny model (labelled
as such: its quality figures mean nothing).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from ..audio import SPEECH_SAMPLE_RATE
from ..errors import DimGestureError
from ..fileio import atomic_path
from .bench_denoiser import compare_for_bench, comparison_table
from .evaluate import format_table, json_safe, motion_metrics

REPO = Path(__file__).resolve().parents[2]
SECTIONS = ("scaling", "samplers", "e2e", "startup", "scale", "gpu")
TINY_DEFAULT = ("scaling", "samplers", "e2e")  # the smoke test skips the cold-process sections unless asked
MIXERS = ("mamba2", "attention")
# Denoiser variants of the scaling section: name -> (mixer, attention backend, largest size run).
# The plain "math" attention materialises T x T scores per head (5.2 GB at 12,000 frames for the
# small preset), so it stops there: the machine is shared.
VARIANTS = {"mamba2": ("mamba2", None, None), "attention": ("attention", None, None),
            "attention_math": ("attention", "math", 12000)}
LABELS = {"mamba2": "AdaLN Mamba-2", "attention": "DiT, SDPA (flash kernel)", "attention_math": "DiT, plain softmax(QK^T)V"}

# What each mode measures. Frame counts at 20 fps: 200 = 10 s, 12,000 = 10 min.
MODES = {
    "full": dict(preset="small", frames=[200, 600, 2000, 6000, 12000, 24000], repeats=3, budget_s=20.0, max_call_s=150.0,
                 clip_seconds=10.0, seeds=3, reference_steps=1000, grid={"ddim": [10, 25, 50], "dpmsolver++": [5, 10, 20, 25]},
                 e2e_seconds=60.0, e2e_repeats=2, key_frames=6000),
    "quick": dict(preset="small", frames=[200, 800, 2000], repeats=3, budget_s=10.0, max_call_s=60.0,
                  clip_seconds=4.0, seeds=2, reference_steps=1000, grid={"ddim": [10, 25], "dpmsolver++": [10, 20]},
                  e2e_seconds=20.0, e2e_repeats=1, key_frames=6000),
    # smoke test: tiny model, seconds in all
    "tiny": dict(preset="tiny", frames=[64, 256], repeats=2, budget_s=2.0, max_call_s=10.0,
                 clip_seconds=1.0, seeds=2, reference_steps=20, grid={"ddim": [5], "dpmsolver++": [5]},
                 e2e_seconds=3.0, e2e_repeats=1, key_frames=100),
}
GPU = dict(frames=[200, 2000, 6000, 12000, 24000], repeats=5, dtypes=("float32", "bfloat16", "float16"), wavlm_seconds=60.0)


def growth_exponent(frames, seconds) -> float:
    """Slope of log(time) over log(frames): 1 = linear, 2 = quadratic (NaN with < 2 points)."""
    n, t = np.asarray(frames, dtype=np.float64), np.asarray(seconds, dtype=np.float64)
    keep = (n > 0) & (t > 0) & np.isfinite(t)
    if keep.sum() < 2:
        return float("nan")
    return float(np.polyfit(np.log(n[keep]), np.log(t[keep]), 1)[0])


def machine_info(threads: int) -> dict:
    import torch

    lines = Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []
    cpu = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), platform.processor())
    flags = next((line.split(":", 1)[1].split() for line in lines if line.startswith("flags")), [])
    info = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "cpu": cpu,
        "cpu_vector_extensions": sorted(f for f in flags if f.startswith(("avx", "amx"))),
        "cores": os.cpu_count(),
        "torch_threads": threads,
        "load_average_start": list(os.getloadavg()),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }
    return info


# ------------------------------------------------------------------------------------ scaling


def run_probe(spec: dict, timeout: float) -> tuple[dict, list[dict], str | None]:
    """Run ``probe`` in a child process; returns (header, per-size results, problem or None)."""
    env = dict(os.environ, OMP_NUM_THREADS=str(spec.get("threads", 1)), PYTHONPATH=str(REPO))
    cmd = [sys.executable, "-m", "backend.eval.probe", json.dumps(spec)]
    problem = None
    try:
        proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)
        stdout = proc.stdout
        if proc.returncode != 0:
            problem = f"probe exited with {proc.returncode}: {proc.stderr.strip().splitlines()[-1:] or ''}"
    except subprocess.TimeoutExpired as err:
        stdout = err.stdout.decode() if isinstance(err.stdout, bytes) else (err.stdout or "")
        problem = f"stopped after {timeout:.0f} s"
    lines = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    if not lines:
        return {}, [], problem or "probe printed nothing"
    return lines[0], lines[1:], problem


def bench_scaling(mode: dict, threads: int, log) -> dict:
    """Mamba-2 vs attention denoisers: time per call and memory over sequence length."""
    result = {"preset": mode["preset"], "threads": threads, "batch": 1, "mixers": {}}
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
        large = [p for p in points if p["frames"] >= 2000]
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
    result["mamba_vs_dit"] = compare_for_bench(mode, log)  # alternating rounds, 1 and 2 threads
    return result


def scaling_table(result: dict) -> str:
    """Seconds and MB per call for each variant, one row per size, plus the ratios to Mamba-2."""
    names = list(result["mixers"])
    by_name = {k: {p["frames"]: p for p in result["mixers"][k]["points"]} for k in names}
    sizes = sorted({n for pts in by_name.values() for n in pts})
    head = " ".join(f"{k[:14]:>14}" for k in names)
    lines = [f"{'frames':>7} {'seconds':>7} | ms/call {head} | MB/call {head}"]
    for n in sizes:
        ms = " ".join(f"{by_name[k][n]['median_s'] * 1e3:14.1f}" if n in by_name[k] else f"{'-':>14}" for k in names)
        mb = " ".join(f"{by_name[k][n]['activation_mb']:14.1f}" if n in by_name[k] else f"{'-':>14}" for k in names)
        lines.append(f"{n:7d} {n / 20:7.0f} | {'':7} {ms} | {'':7} {mb}")
    lines.append("time exponent (all sizes / >= 2000 frames): " + ", ".join(
        f"{k} {result['mixers'][k]['time_exponent']:.2f} / {result['mixers'][k]['time_exponent_large']:.2f}" for k in names))
    return "\n".join(lines)


# ----------------------------------------------------------------------------------- samplers


def load_pipeline(mode_name: str, checkpoint: Path | None):
    """(pipeline, label): ``--tiny`` without ``--checkpoint`` runs a random tiny model (a smoke test);
    otherwise the checkpoint, by default the bundled demo, through the one loader."""
    from ..loading import default_checkpoint
    from ..model.config import preset
    from ..pipeline import GesturePipeline

    if mode_name == "tiny" and checkpoint is None:
        return GesturePipeline.from_config(preset("tiny"), seed=0), "random 'tiny' model (quality figures are meaningless)"
    folder = checkpoint or default_checkpoint()
    return GesturePipeline.from_pretrained(folder), f"checkpoint {folder.relative_to(REPO) if folder.is_relative_to(REPO) else folder}"


def speech(seconds: float) -> np.ndarray:
    """The bundled demo speech clip, looped or cut to ``seconds`` (16 kHz)."""
    from ..audio import load_audio

    wave = load_audio(REPO / "assets" / "demo_speech.wav", SPEECH_SAMPLE_RATE)
    n = int(round(seconds * SPEECH_SAMPLE_RATE))
    return np.resize(wave, n).astype(np.float32)


def held_out_clip(data: Path | None, pipe, seconds: float):
    """(wave, real motion, stroke times, description) of the first held-out take of ``data``
    (a cache or corpus, see ``evaluate.load_takes``) cut to ``seconds``; the demo speech with no
    ground truth when ``data`` is None."""
    from .evaluate import load_takes

    if data is None:
        return speech(seconds), None, None, f"assets/demo_speech.wav, first {seconds:g} s (no ground truth)"
    take = load_takes(data, pipe.skeleton, pipe.config.fps, max_takes=1)[0]
    frames = min(int(round(seconds * take.motion.fps)), take.motion.num_frames)
    seconds = frames / take.motion.fps
    strokes = None if take.strokes is None else take.strokes[take.strokes < seconds]
    wave = take.wave[: int(round(seconds * SPEECH_SAMPLE_RATE))]
    return wave, take.motion.slice(0, frames), strokes, f"{data}: {take.name}, first {seconds:g} s (held out)"


def default_data() -> Path | None:
    """The demo training cache, whose val takes the demo checkpoint never saw, if it is here."""
    cache = REPO / "data" / "cache-demo"
    return cache if (cache / "manifest.json").is_file() else None


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


def samplers_table(result: dict) -> str:
    columns = {f"{r['sampler']}-{r['steps']}": {"s/clip": r["median_s"], "speedup": r["speedup_vs_reference"], **r["metrics"]}
               for r in result["runs"]}
    if "ground_truth" in result:
        columns["ground truth"] = result["ground_truth"]
    keys = ("s/clip", "speedup", "fd_positions", "fd_positions_vs_truth", "beat_align", "stroke_f1", "diversity_within",
            "jerk_mean", "acc_mean")
    return format_table({k: {m: v[m] for m in keys if m in v} for k, v in columns.items()})


# ---------------------------------------------------------------------------------- end to end


def bench_end_to_end(pipe, label: str, mode: dict, log) -> dict:
    """Real-time factor of the whole pipeline call, and of the frontend alone."""
    wave = speech(mode["e2e_seconds"])
    frontend, total = [], []
    for seed in range(mode["e2e_repeats"]):
        start = time.perf_counter()
        pipe.frontend_features(wave)
        frontend.append(time.perf_counter() - start)
        start = time.perf_counter()
        pipe(wave, seed=seed)
        total.append(time.perf_counter() - start)
    seconds = mode["e2e_seconds"]
    result = {"model": label, "speech_seconds": seconds, "sampler": pipe.config.sampler.name, "steps": pipe.config.sampler.steps,
              "frontend_s": statistics.median(frontend), "total_s": statistics.median(total), "times_s": total,
              "rtf": statistics.median(total) / seconds}
    log(f"  {seconds:.0f} s of speech: {result['total_s']:.2f} s (frontend {result['frontend_s']:.3f} s), "
        f"RTF {result['rtf']:.3f} ({result['sampler']} {result['steps']} steps)")
    return result


def bench_keyframes(frames: int, log) -> dict:
    """Keyframe writing in Blender, in a child process (the backend never imports bpy)."""
    script = REPO / "scripts" / "bench_keyframes.py"
    if not script.is_file():
        return {"skipped": f"{script.relative_to(REPO)} not found"}
    env = dict(os.environ, PYTHONPATH=str(REPO))
    try:
        proc = subprocess.run([sys.executable, str(script), "--frames", str(frames)], cwd=REPO, env=env,
                              capture_output=True, text=True, timeout=600)
    except subprocess.TimeoutExpired:
        return {"skipped": "keyframe benchmark took longer than 600 s"}
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {"skipped": f"keyframe benchmark failed: {tail}"}
    result = json.loads(lines[-1])
    log(f"  keyframes: {result['joints']} joints x {result['frames']} frames = {result['keys']} keys: "
        f"retarget {result['retarget_s']:.2f} s, apply_motion_to_armature {result['apply_s']:.2f} s")
    return result


# ----------------------------------------------------------------------------------------- GPU


def wavlm_large_config():
    """WavLM-Large's shape (24 layers, hidden 1024): speed and memory do not depend on its weights."""
    from transformers import WavLMConfig

    return WavLMConfig(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, intermediate_size=4096,
                       feat_extract_norm="layer", do_stable_layer_norm=True, conv_bias=True)


def bench_gpu(log, device: str = "cuda", preset_name: str = "paper", frames: list[int] | None = None,
              wavlm_config=None, speech_seconds: float = GPU["wavlm_seconds"],
              samplers: tuple = (("ddpm", 1000), ("dpmsolver++", 25)), repeats: int = GPU["repeats"]) -> dict:
    """The paper-size model on CUDA: both mixers x dtypes, a WavLM-Large frontend, real-time factor.

    The arguments exist so that the same code runs on CPU with tiny sizes in the tests; ``--gpu``
    uses the defaults on ``cuda``.
    """
    import torch
    from transformers import WavLMModel

    from ..model.config import preset
    from ..model.diffusion import GestureDiffusion
    from ..nn.mamba2 import fused_kernel
    from .probe import build_model, measure_denoiser, timed_runs

    cuda = device.startswith("cuda")
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    frames = frames or GPU["frames"]
    out = {"device": torch.cuda.get_device_name(0) if cuda else device, "preset": preset_name,
           "mamba_ssm_kernel": cuda and fused_kernel() is not None, "scaling": {}, "params": {}}
    for mixer in MIXERS:
        model = build_model(preset(preset_name).replace(mixer=mixer), device)
        out["params"][mixer] = sum(p.numel() for p in model.denoiser.parameters())
        for dtype in GPU["dtypes"]:
            points = []
            try:
                for p in measure_denoiser(model, frames, repeats, device, dtype, budget_s=10.0, max_call_s=30.0):
                    points.append(p)
                    log(f"  {mixer:9s} {dtype:8s} {p['frames']:6d} frames {p['median_s'] * 1e3:9.2f} ms  {p['peak_mb']:9.0f} MB")
            except torch.OutOfMemoryError:
                log(f"  {mixer} {dtype}: out of memory after {points[-1]['frames'] if points else 0} frames")
                torch.cuda.empty_cache()
            large = [p for p in points if p["frames"] >= 2000]
            out["scaling"][f"{mixer}/{dtype}"] = {
                "points": points,
                "time_exponent": growth_exponent([p["frames"] for p in points], [p["median_s"] for p in points]),
                "time_exponent_large": growth_exponent([p["frames"] for p in large], [p["median_s"] for p in large]),
            }
        del model
        if cuda:
            torch.cuda.empty_cache()

    wavlm_config = wavlm_config or wavlm_large_config()
    wavlm = WavLMModel(wavlm_config).eval().to(device)
    wave = torch.from_numpy(speech(speech_seconds))[None].to(device)
    frontend = {}
    for dtype in ("float32", "float16"):
        with torch.inference_mode(), torch.autocast(device.split(":")[0], dtype=torch.float16, enabled=dtype != "float32"):
            times = timed_runs(lambda: wavlm(wave, output_hidden_states=True), 3, 20.0, sync)
        frontend[dtype] = statistics.median(times)
        log(f"  WavLM ({wavlm_config.num_hidden_layers} x {wavlm_config.hidden_size}, random) {speech_seconds:g} s speech, "
            f"{dtype}: {frontend[dtype] * 1e3:.1f} ms")
    with torch.inference_mode():
        layer = min(12, wavlm_config.num_hidden_layers)  # Persona-Gestor's layer 12 of WavLM-Large
        feats = wavlm(wave, output_hidden_states=True).hidden_states[layer].float()
    del wavlm
    out["wavlm_s"] = frontend

    # real-time factor: frontend (fp16) + the full sampling loop of the model (bf16)
    model = build_model(preset(preset_name), device)
    diffusion = GestureDiffusion(model.config.diffusion)
    num_frames = int(speech_seconds * model.config.fps)
    rtf = {}
    for sampler, steps in samplers:
        with torch.autocast(device.split(":")[0], dtype=torch.bfloat16):
            times = timed_runs(lambda: diffusion.sample(model, feats, num_frames, sampler=sampler, steps=steps,
                                                        generator=torch.Generator(device).manual_seed(0)),
                               2, 60.0, sync)
        total = statistics.median(times) + frontend["float16"]
        rtf[f"{sampler}-{steps}"] = {"seconds": total, "rtf": total / speech_seconds}
        log(f"  {preset_name} model + WavLM, {sampler} {steps} steps: {total:.2f} s for {speech_seconds:g} s, "
            f"RTF {total / speech_seconds:.4f}")
    out["end_to_end"] = rtf
    return out


# -------------------------------------------------------------------------------------- plots


def plot(results: dict, out: Path) -> list[str]:
    """PNG plots of the sections present; returns the file names written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    scaling = results.get("scaling")
    if scaling:
        for key, ylabel, name in (("median_s", "seconds per denoiser call", "scaling_time.png"),
                                  ("activation_mb", "peak memory of one call (MB above baseline)", "scaling_memory.png")):
            fig, ax = plt.subplots(figsize=(6, 4))
            for mixer, data in scaling["mixers"].items():
                pts = [p for p in data["points"] if p[key] > 0]
                ax.loglog([p["frames"] for p in pts], [p[key] for p in pts], "o-", label=data.get("label", mixer))
            ax.set_xlabel("motion frames (20 fps)")
            ax.set_ylabel(ylabel)
            ax.set_title(f"'{scaling['preset']}' denoiser, batch 1, {scaling['threads']} CPU thread(s)")
            ax.grid(True, which="both", alpha=0.3)
            ax.legend()
            fig.tight_layout()
            fig.savefig(out / name, dpi=110)
            plt.close(fig)
            written.append(name)
    samplers = results.get("samplers")
    if samplers:
        panels = [("fd_positions", f"FD of joint positions vs {samplers['reference']}")]
        if any("fd_positions_vs_truth" in r["metrics"] for r in samplers["runs"]):
            panels.append(("fd_positions_vs_truth", "FD of joint positions vs ground truth"))
        panels.append(("jerk_mean", "mean |jerk| of the joints (cm/s³)"))
        rows = (2 + len(panels)) // 2
        fig, grid = plt.subplots(rows, 2, figsize=(11, 4 * rows), squeeze=False)
        axes = list(grid.flat)
        for ax in axes[1 + len(panels):]:
            ax.remove()
        axes = axes[: 1 + len(panels)]
        for i, name in enumerate(dict.fromkeys(r["sampler"] for r in samplers["runs"])):
            runs = [r for r in samplers["runs"] if r["sampler"] == name]
            style = dict(color=f"C{i}", marker="o", label=name)
            axes[0].plot([r["steps"] for r in runs], [r["median_s"] for r in runs], **style)
            for ax, (key, _) in zip(axes[1:], panels):
                pts = [(r["steps"], r["metrics"][key]) for r in runs if r["metrics"].get(key) is not None]
                if pts:
                    ax.plot(*zip(*pts), **style)
        truth_jerk = samplers.get("ground_truth", {}).get("jerk_mean")
        if truth_jerk is not None:
            axes[-1].axhline(truth_jerk, color="k", linestyle="--", label="ground truth")
        axes[0].set_yscale("log")
        axes[0].set_ylabel("seconds per clip (median)")
        axes[0].set_title(f"{samplers['clip_seconds']:g} s clip, {samplers['seeds']} seeds")
        for ax, (key, label) in zip(axes[1:], panels):
            ax.set_ylabel(label)
            ax.set_ylim(bottom=0)
        steps = sorted({r["steps"] for r in samplers["runs"]})
        for ax in axes:
            ax.set_xscale("log")
            ax.set_xticks(steps)
            ax.set_xticklabels([str(k) for k in steps], fontsize=8)
            ax.minorticks_off()
            ax.set_xlabel("denoising steps")
            ax.grid(True, alpha=0.3)
            ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(out / "samplers.png", dpi=110)
        plt.close(fig)
        written.append("samplers.png")
    gpu = results.get("gpu")
    if gpu:
        fig, ax = plt.subplots(figsize=(6, 4))
        for key, data in gpu["scaling"].items():
            if data["points"]:
                ax.loglog([p["frames"] for p in data["points"]], [p["median_s"] for p in data["points"]], "o-", label=key)
        ax.set_xlabel("motion frames (20 fps)")
        ax.set_ylabel("seconds per denoiser call")
        ax.set_title(f"'{gpu.get('preset', 'paper')}' denoiser on {gpu['device']}")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(out / "gpu_scaling.png", dpi=110)
        plt.close(fig)
        written.append("gpu_scaling.png")
    return written


def _fmt(value, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "-"
    if isinstance(value, int):
        return str(value)
    return f"{value:.{digits}g}" if abs(value) >= 1e-3 or value == 0 else f"{value:.2e}"


def bench_cold(section: str, mode_name: str, args: argparse.Namespace, log) -> dict:
    """The cold-process sections (``startup.py``); ``--tiny`` without ``--checkpoint`` writes a random tiny one."""
    import tempfile

    from . import startup

    run = startup.bench_startup if section == "startup" else startup.bench_scale
    if args.checkpoint is not None or mode_name != "tiny":
        return run(args.checkpoint, startup.SETTINGS[mode_name], args.threads, log)
    from ..model.config import preset
    from ..pipeline import GesturePipeline

    with tempfile.TemporaryDirectory(prefix="dimgesture-bench-ckpt-") as tmp:
        GesturePipeline.from_config(preset("tiny"), seed=0).save_pretrained(tmp)
        return {**run(Path(tmp), startup.SETTINGS[mode_name], args.threads, log), "model": "random 'tiny' model"}


def markdown(results: dict) -> str:
    """The result tables as Markdown (written to ``tables.md`` beside the JSON, for the docs)."""
    from .startup import markdown as cold_markdown

    parts = []
    scaling = results.get("scaling")
    if scaling:
        names = list(scaling["mixers"])
        by_name = {k: {p["frames"]: p for p in scaling["mixers"][k]["points"]} for k in names}
        sizes = sorted({n for pts in by_name.values() for n in pts})
        labels = [scaling["mixers"][k].get("label", k) for k in names]
        parts.append("| frames | speech | " + " | ".join(f"{l}: s/call" for l in labels) + " | "
                     + " | ".join(f"{l}: MB/call" for l in labels) + " | " + " | ".join(f"{l} / Mamba-2 time" for l in labels[1:]) + " |")
        parts.append("|" + "---|" * (2 + 3 * len(names) - 1))
        for n in sizes:
            cells = [_fmt(by_name[k][n]["median_s"]) if n in by_name[k] else "-" for k in names]
            cells += [_fmt(by_name[k][n]["activation_mb"]) if n in by_name[k] else "-" for k in names]
            m = by_name["mamba2"].get(n)
            cells += [_fmt(by_name[k][n]["median_s"] / m["median_s"], 2) + "x" if n in by_name[k] and m else "-" for k in names[1:]]
            seconds = n / 20
            parts.append(f"| {n:,} | {f'{seconds / 60:g} min' if seconds >= 120 else f'{seconds:g} s'} | " + " | ".join(cells) + " |")
        parts.append("")
        parts.append("| denoiser | parameters | time exponent (all sizes) | time exponent (>= 2,000 frames) | memory exponent (>= 2,000 frames) | runs per size |")
        parts.append("|---|---|---|---|---|---|")
        for k in names:
            d = scaling["mixers"][k]
            runs = "/".join(str(p["runs"]) for p in d["points"])
            parts.append(f"| {d.get('label', k)} | {d['params']:,} | {_fmt(d['time_exponent'])} | {_fmt(d['time_exponent_large'])} | "
                         f"{_fmt(d['memory_exponent_large'])} | {runs} |")
        parts.append("")
        if "mamba_vs_dit" in scaling:
            parts.append(comparison_table(scaling["mamba_vs_dit"]))
    samplers = results.get("samplers")
    if samplers:
        keys = ("fd_positions", "fd_positions_vs_truth", "beat_align", "stroke_f1", "diversity_within", "jerk_mean")
        present = [k for k in keys if any(k in r["metrics"] for r in samplers["runs"]) or k in samplers.get("ground_truth", {})]
        parts.append(f"Model: {samplers['model']}. Clip: {samplers['clip']}. Seeds: {samplers['seeds']}.")
        parts.append("")
        parts.append("| sampler | steps | s/clip (median) | speed-up vs " + samplers["reference"] + " | " + " | ".join(present) + " |")
        parts.append("|" + "---|" * (4 + len(present)))
        for r in samplers["runs"]:
            parts.append(f"| {r['sampler']} | {r['steps']} | {_fmt(r['median_s'])} | {_fmt(r['speedup_vs_reference'])}x | "
                         + " | ".join(_fmt(r["metrics"].get(k)) for k in present) + " |")
        if "ground_truth" in samplers:
            parts.append("| ground truth | - | - | - | " + " | ".join(_fmt(samplers["ground_truth"].get(k)) for k in present) + " |")
        parts.append("")
    e2e = results.get("e2e")
    if e2e:
        p = e2e["pipeline"]
        parts.append(f"Pipeline ({p['model']}, {p['sampler']} {p['steps']} steps): {p['speech_seconds']:g} s of speech in "
                     f"{_fmt(p['total_s'])} s (median of {len(p['times_s'])}; frontend {_fmt(p['frontend_s'])} s): "
                     f"real-time factor {_fmt(p['rtf'])}.")
        k = e2e["keyframes"]
        if "skipped" in k:
            parts.append(f"Keyframes: skipped ({k['skipped']}).")
        else:
            parts.append(f"Keyframes (Blender {k['blender']}): {k['joints']} joints x {k['frames']} frames = {k['keys']:,} keys: "
                         f"apply_motion_to_armature {_fmt(k['apply_s'])} s (median of {len(k['apply_times_s'])}), of which "
                         f"retargeting {_fmt(k['retarget_s'])} s.")
        parts.append("")
    parts.append(cold_markdown(results))
    return "\n".join(parts)


# ---------------------------------------------------------------------------------------- CLI


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true", help="fewer sizes, shorter clips (a few minutes on 2 CPU cores)")
    parser.add_argument("--tiny", action="store_true", help="smoke test: the tiny preset, seconds in all")
    parser.add_argument("--gpu", action="store_true", help="run the GPU section (CUDA required) into bench-gpu.json")
    parser.add_argument("--sections", help=f"comma-separated subset of {','.join(SECTIONS[:-1])} (default: all; "
                        f"with --tiny: {','.join(TINY_DEFAULT)})")
    parser.add_argument("--checkpoint", type=Path, help="model for samplers/e2e (default: checkpoints/demo if present)")
    parser.add_argument("--data", type=Path, help="cache or corpus giving a held-out take with ground truth for the sampler "
                        "section (default: data/cache-demo if present, else the demo speech clip without ground truth)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1: stable figures on a shared machine)")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "benchmarks", help="output folder (default docs/benchmarks)")


def run(args: argparse.Namespace) -> int:
    import torch

    mode_name = "tiny" if args.tiny else "quick" if args.quick else "full"
    mode = MODES[mode_name]
    if args.gpu:
        sections = ["gpu"]
    else:
        sections = args.sections.split(",") if args.sections else list(TINY_DEFAULT if args.tiny else SECTIONS[:-1])
        unknown = [s for s in sections if s not in SECTIONS[:-1]]
        if unknown:
            raise DimGestureError(f"unknown bench section(s) {', '.join(unknown)}; choose from {', '.join(SECTIONS[:-1])}")
    threads_before = torch.get_num_threads()
    torch.set_num_threads(args.threads)
    try:
        return _run(args, mode_name, mode, sections)
    finally:
        torch.set_num_threads(threads_before)


def _run(args: argparse.Namespace, mode_name: str, mode: dict, sections: list[str]) -> int:
    import torch

    args.out.mkdir(parents=True, exist_ok=True)
    json_path = args.out / ("bench-gpu.json" if args.gpu else "bench.json")
    results = {}
    if json_path.is_file():
        previous = json.loads(json_path.read_text())
        if previous.get("mode") == mode_name:
            results = previous
    results["mode"] = mode_name
    results.setdefault("commands", {})
    command = "dimgesture bench" + (" --tiny" if args.tiny else " --quick" if args.quick else "") + (" --gpu" if args.gpu else "")
    log = lambda text: print(text, flush=True)  # noqa: E731
    pipe = label = None
    for section in sections:
        start = time.perf_counter()
        run_info = machine_info(args.threads)
        log(f"[{section}]")
        if section == "scaling":
            results["scaling"] = bench_scaling(mode, args.threads, log)
            log(scaling_table(results["scaling"]))
        elif section == "samplers":
            if pipe is None:
                pipe, label = load_pipeline(mode_name, args.checkpoint)
            results["samplers"] = bench_samplers(pipe, label, mode, log, args.data or (None if args.tiny else default_data()))
            log(samplers_table(results["samplers"]))
        elif section == "e2e":
            if pipe is None:
                pipe, label = load_pipeline(mode_name, args.checkpoint)
            results["e2e"] = {"pipeline": bench_end_to_end(pipe, label, mode, log), "keyframes": bench_keyframes(mode["key_frames"], log)}
        elif section in ("startup", "scale"):
            results[section] = bench_cold(section, mode_name, args, log)
        elif section == "gpu":
            if not torch.cuda.is_available():
                raise DimGestureError("--gpu: CUDA is not available in this torch build or on this machine")
            results["gpu"] = bench_gpu(log)
        results["commands"][section] = f"{command} --sections {section}" if not args.gpu else command
        results[section]["run"] = {**run_info, "seconds": time.perf_counter() - start, "load_average_end": list(os.getloadavg())}
    plots = plot(results, args.out)
    if not args.gpu:
        (args.out / "tables.md").write_text(markdown(results) + "\n")
    with atomic_path(json_path) as tmp:
        tmp.write_text(json.dumps(json_safe(results), indent=1) + "\n")
    log(f"wrote {json_path}" + (f" and {', '.join(plots)}" if plots else ""))
    return 0
