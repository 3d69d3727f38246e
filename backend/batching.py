"""Several clips per denoiser pass: condition each clip alone, pad to a length bucket, sample together.

Why this way: the denoiser costs ``steps`` forward passes, the condition one; so each clip's audio
latent (its local features and its own style vector) is computed at its own length, then padded
with the "no audio" latent to a multiple of ``bucket_seconds`` and sampled in one batch. Each clip
draws its noise from its own seeded generator at its bucket length, so a clip's motion depends on
its audio, style, seed and bucket, never on the clips batched with it (batch size 1 and 8 agree to
float rounding). Padding is cropped off; clips too long for one pass go through the windowed
``GesturePipeline.__call__`` alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from .denoising import denoise, needs_own_style
from .motion.motion import Motion

__all__ = ["ClipRequest", "bucket_frames", "is_long", "generate_batch", "plan_batches"]

BUCKET_SECONDS = 2.0
MAX_BATCH_SECONDS = 60.0  # longer clips run alone (windowed when very long): a batch stays small in memory


@dataclass
class ClipRequest:
    """One clip to generate: a 16 kHz mono waveform, its seed and an optional style waveform."""

    wave: np.ndarray
    seed: int = 0
    style: np.ndarray | None = None


def bucket_frames(frames: int, fps: float, bucket_seconds: float = BUCKET_SECONDS) -> int:
    """The padded length of a clip of ``frames``: the next multiple of ``bucket_seconds``."""
    bucket = max(1, round(bucket_seconds * fps))
    return max(bucket, math.ceil(frames / bucket) * bucket)


def is_long(frames: int, fps: float) -> bool:
    """Clips longer than ``MAX_BATCH_SECONDS`` are generated alone, by ``GesturePipeline.__call__``."""
    return frames > MAX_BATCH_SECONDS * fps


def plan_batches(frames: list[int], fps: float, batch_size: int) -> list[list[int]]:
    """Indices grouped into batches of at most ``batch_size`` clips sharing a bucket; long clips alone."""
    buckets: dict[int, list[int]] = {}
    batches = []
    for i, n in enumerate(frames):
        if is_long(n, fps):
            batches.append([i])
        else:
            buckets.setdefault(bucket_frames(n, fps), []).append(i)
    for members in buckets.values():
        batches += [members[k:k + batch_size] for k in range(0, len(members), batch_size)]
    return sorted(batches, key=lambda b: b[0])


@torch.no_grad()
def generate_batch(
    pipe,
    requests: list[ClipRequest],
    *,
    steps: int | None = None,
    sampler: str | None = None,
    guidance_scale: float | None = None,
    style_scale: float | None = None,
    fps: float | None = None,
    progress: Callable[[int, int, str], None] | None = None,
) -> list[Motion]:
    """Motions for clips that share one bucket (see ``plan_batches``), in one sampling loop."""
    model = pipe.model
    frames = [pipe.num_frames(r.wave.shape[0]) for r in requests]
    lengths = {bucket_frames(n, pipe.fps) for n in frames}
    if len(lengths) != 1:
        raise ValueError(f"generate_batch: the clips fall into different length buckets {sorted(lengths)}")
    length = lengths.pop()
    own_style_too = needs_own_style(pipe.scheduler, style_scale, any(r.style is not None for r in requests))
    conds, bases = [], []  # bases: each clip with its own style (itself where it has no reference)
    for request, n in zip(requests, frames):
        feats = pipe.frontend_features(request.wave)
        style = None if request.style is None else pipe.frontend_features(request.style)
        pad = model.null_condition(1, length - n)
        cond = model.condition(feats, n, style)
        conds.append(torch.cat([cond, pad.to(cond)], dim=1))
        if own_style_too:
            bases.append(conds[-1] if style is None else torch.cat([model.condition(feats, n), pad.to(cond)], dim=1))
    x = denoise(
        model, pipe.scheduler, torch.cat(conds), sampler=sampler, steps=steps, guidance_scale=guidance_scale,
        style_base=torch.cat(bases) if own_style_too else None, style_scale=style_scale,
        generator=[torch.Generator().manual_seed(r.seed) for r in requests],
        callback=None if progress is None else lambda step, total: progress(step, total, "denoising"),
    )
    x = x.float().cpu().numpy()
    return [pipe.decode(row[:n], fps=fps) for row, n in zip(x, frames)]
