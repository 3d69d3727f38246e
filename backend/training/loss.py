"""The diffusion training objective.

Why a function of the trainer and not of the scheduler or the model: the condition dropout that
classifier-free guidance needs (``train.cond_drop_prob``) is a training setting, and generation
never computes a loss.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..model.gesture import GestureModel
from ..model.schedulers import GestureScheduler

__all__ = ["diffusion_loss"]


def diffusion_loss(
    model: GestureModel,
    scheduler: GestureScheduler,
    x0: torch.Tensor,
    audio: torch.Tensor,
    *,
    cond_drop_prob: float = 0.1,
    style_audio: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """L2 between the model output and its target (ε, x0 or v: the scheduler's ``prediction_type``),
    at random timesteps, with the audio replaced by the learned null latent for a ``cond_drop_prob``
    share of the rows."""
    batch = x0.shape[0]
    schedule = scheduler.schedule
    device = generator.device if generator is not None else x0.device
    timesteps = torch.randint(0, scheduler.config.num_train_timesteps, (batch,), generator=generator, device=device)
    noise = torch.randn(x0.shape, generator=generator, device=device, dtype=x0.dtype)
    drop = torch.rand(batch, generator=generator, device=device) < cond_drop_prob
    timesteps, noise, drop = timesteps.to(x0.device), noise.to(x0.device), drop.to(x0.device)

    x_t = schedule.add_noise(x0, noise, timesteps)
    prediction = model(x_t, timesteps, audio, style_audio=style_audio, drop_audio=drop)
    kind = scheduler.config.prediction_type
    if kind == "epsilon":
        target = noise
    elif kind == "sample":
        target = x0
    else:
        target = schedule.get_velocity(x0, noise, timesteps)
    return F.mse_loss(prediction.float(), target.float())
