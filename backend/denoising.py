"""The denoising loop: the one place where a sampler and the denoiser meet.

Why here and not in the model or the scheduler: the same loop serves a single clip
(``GesturePipeline.__call__``, one call per pass of a long clip) and a batch of clips
(``backend.batching``), and only the caller knows how steps add up to the progress the user sees
(several passes, several clips). So the loop reports its own steps to a callback, and the caller
composes what it shows.
"""

from __future__ import annotations

from typing import Callable

import torch

from .errors import Cancelled
from .model.gesture import GestureModel
from .model.schedulers import Generators, GestureScheduler, draw_noise

__all__ = ["denoise", "needs_own_style", "style_strength"]


def style_strength(scheduler: GestureScheduler, style_scale: float | None) -> float:
    """The style strength a call uses: its own, else the checkpoint's."""
    return scheduler.config.style_scale if style_scale is None else style_scale


def needs_own_style(scheduler: GestureScheduler, style_scale: float | None, has_reference: bool) -> bool:
    """Whether a call must also condition on the speech's own style (``denoise``'s ``style_base``):
    only with a reference clip and a strength other than 1, where ``denoise`` uses it. Callers
    skip that second conditioning pass otherwise."""
    return has_reference and style_strength(scheduler, style_scale) != 1.0


@torch.no_grad()
def denoise(
    model: GestureModel,
    scheduler: GestureScheduler,
    cond: torch.Tensor,
    *,
    sampler: str | None = None,
    steps: int | None = None,
    guidance_scale: float | None = None,
    style_base: torch.Tensor | None = None,
    style_scale: float | None = None,
    generator: Generators = None,
    callback: Callable[[int, int], None] | None = None,
    cancel: Callable[[], bool] | None = None,
) -> torch.Tensor:
    """Normalised pose features (B, T, F) for the audio latent ``cond`` (B, T, D) of ``model.condition``.

    ``sampler``, ``steps`` and ``guidance_scale`` default to the scheduler's config; ``guidance_scale``
    other than 1 mixes conditional and unconditional predictions (classifier-free guidance).
    ``style_base`` is the latent of the same audio with its own style (``cond`` carries a reference
    clip's): with ``style_scale`` s other than 1 the prediction becomes ``base + s (cond - base)``,
    guidance on the style alone, so the reference is followed more (s > 1) or less (s < 1).
    ``generator`` may be one ``torch.Generator`` or one per row (a row's noise then does not depend
    on the rows batched with it); a CPU generator gives the same result on every device.
    ``callback(step, steps)`` follows every step; ``cancel()`` returning True raises ``Cancelled``
    before the next one.
    """
    if steps is not None and steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    guidance_scale = scheduler.config.guidance_scale if guidance_scale is None else guidance_scale
    style_scale = style_strength(scheduler, style_scale)
    sampler_ = scheduler.sampler(sampler, steps, device=cond.device)
    batch, num_frames = cond.shape[:2]
    guided = guidance_scale != 1.0
    styled = style_base is not None and needs_own_style(scheduler, style_scale, True)
    conds = [cond] + ([model.null_condition(batch, num_frames)] if guided else []) + ([style_base] if styled else [])
    cond = torch.cat(conds) if len(conds) > 1 else cond

    shape = (batch, num_frames, model.config.pose_dim)
    x = draw_noise(shape, generator, cond.device, cond.dtype) * sampler_.init_noise_sigma
    total = len(sampler_.timesteps)
    for i, t in enumerate(sampler_.timesteps):
        if cancel is not None and cancel():
            raise Cancelled("generation cancelled")
        model_in = sampler_.scale_model_input(x.repeat(len(conds), 1, 1) if len(conds) > 1 else x, t)
        outs = model.denoise(model_in, t, cond).chunk(len(conds))
        out = outs[0]
        if guided:
            out = outs[1] + guidance_scale * (outs[0] - outs[1])
        if styled:
            out = out + (style_scale - 1.0) * (outs[0] - outs[-1])
        x = sampler_.step(out, t, x, generator=generator)
        if callback is not None:
            callback(i + 1, total)
    return x
