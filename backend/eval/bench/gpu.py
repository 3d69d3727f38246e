"""The ``gpu`` section (``dimgesture bench --gpu``, CUDA only): the paper-size model on a GPU.

The ``paper`` preset (12 x 1280) with each mixer, the Mamba-2 one through mamba-ssm's fused kernel
when it imports, in fp32/bf16/fp16; a WavLM-Large-sized frontend; and the real-time factor of the
whole pipeline call. There is no paper-size checkpoint, so the model and the WavLM have random
weights (``models.random_model``, labelled so): speed and memory do not depend on the weights.
The arguments exist so that the same code runs on CPU with tiny sizes in the tests.
"""

from __future__ import annotations

import statistics
import tempfile
from pathlib import Path

from .denoiser import LARGE, growth_exponent
from .models import random_model, random_wavlm
from .speech import speech

MIXERS = ("mamba2", "attention")
GPU = dict(frames=[200, 2000, 6000, 12000, 24000], repeats=5, dtypes=("float32", "bfloat16", "float16"),
           speech_seconds=60.0, samplers=(("ddpm", 1000), ("dpmsolver++", 25)))


def wavlm_large_config():
    """WavLM-Large's shape (24 layers, hidden 1024)."""
    from transformers import WavLMConfig

    return WavLMConfig(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, intermediate_size=4096,
                       feat_extract_norm="layer", do_stable_layer_norm=True, conv_bias=True)


def bench_gpu(log, device: str = "cuda", preset_name: str = "paper", frames: list[int] | None = None,
              wavlm_config=None, speech_seconds: float = GPU["speech_seconds"], samplers: tuple = GPU["samplers"],
              repeats: int = GPU["repeats"]) -> dict:
    """Both mixers x dtypes per denoiser call; the frontend in fp32 and fp16; the real-time factor of
    the pipeline (frontend, sampling, decoding) under bf16 autocast with each of ``samplers``."""
    import torch

    from ...nn.mamba2 import fused_kernel
    from .probe import measure_denoiser

    cuda = device.startswith("cuda")
    wavlm_config = wavlm_config or wavlm_large_config()
    wave = speech(speech_seconds)
    out = {"device": torch.cuda.get_device_name(0) if cuda else device, "preset": preset_name,
           "mamba_ssm_kernel": cuda and fused_kernel() is not None, "scaling": {}, "params": {}}
    with tempfile.TemporaryDirectory(prefix="dimgesture-bench-wavlm-") as tmp:
        frontend = random_wavlm(Path(tmp), wavlm_config)
        for mixer in MIXERS:
            pipe, label = random_model(preset_name, device, mixer=mixer, frontend=frontend)
            out["model"] = f"{label}; WavLM {wavlm_config.num_hidden_layers} x {wavlm_config.hidden_size}, random"
            out["fps"] = pipe.fps
            log(f"  {mixer}: {out['model']}")
            out["params"][mixer] = sum(p.numel() for p in pipe.model.denoiser.parameters())
            for dtype in GPU["dtypes"]:
                points = []
                try:
                    for p in measure_denoiser(pipe.model, frames or GPU["frames"], repeats, device, dtype, budget_s=10.0,
                                              max_call_s=30.0):
                        points.append(p)
                        log(f"  {mixer:9s} {dtype:8s} {p['frames']:6d} frames {p['median_s'] * 1e3:9.2f} ms  {p['peak_mb']:9.0f} MB")
                except torch.OutOfMemoryError:
                    log(f"  {mixer} {dtype}: out of memory after {points[-1]['frames'] if points else 0} frames")
                    torch.cuda.empty_cache()
                large = [p for p in points if p["frames"] >= LARGE]
                out["scaling"][f"{mixer}/{dtype}"] = {
                    "points": points,
                    "time_exponent": growth_exponent([p["frames"] for p in points], [p["median_s"] for p in points]),
                    "time_exponent_large": growth_exponent([p["frames"] for p in large], [p["median_s"] for p in large]),
                }
            if mixer == MIXERS[0]:  # the frontend and the real-time factor: DiM-Gesture's own mixer
                out["wavlm_s"], out["end_to_end"] = _pipeline_times(pipe, wave, speech_seconds, samplers, log)
            del pipe
            if cuda:
                torch.cuda.empty_cache()
    return out


def _pipeline_times(pipe, wave, speech_seconds: float, samplers, log) -> tuple[dict, dict]:
    """Seconds of the frontend alone (fp32, fp16) and the real-time factor of whole pipeline calls (bf16)."""
    import torch

    from .probe import timed_runs

    device = pipe.device.type
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    frontend = {}
    for dtype in ("float32", "float16"):
        with torch.autocast(device, dtype=torch.float16, enabled=dtype != "float32"):
            frontend[dtype] = statistics.median(timed_runs(lambda: pipe.frontend_features(wave), 3, 20.0, sync))
        log(f"  WavLM frontend, {speech_seconds:g} s speech, {dtype}: {frontend[dtype] * 1e3:.1f} ms")
    rtf = {}
    for sampler, steps in samplers:
        with torch.autocast(device, dtype=torch.bfloat16):
            seconds = statistics.median(timed_runs(lambda: pipe(wave, seed=0, sampler=sampler, steps=steps), 2, 60.0, sync))
        rtf[f"{sampler}-{steps}"] = {"seconds": seconds, "rtf": seconds / speech_seconds}
        log(f"  {pipe.model.config.hidden} x {pipe.model.config.depth} model, whole pipeline, {sampler} {steps} steps: "
            f"{seconds:.2f} s for {speech_seconds:g} s, RTF {seconds / speech_seconds:.4f}")
    return frontend, rtf
