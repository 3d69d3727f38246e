"""Diffusion process: training objective and the sampling loop.

The samplers (DDPM, the paper's 1000-step ancestral sampler; DDIM; DPM-Solver++) are our own
small copies of diffusers' (``schedulers.py``, tested against diffusers) so that generating
does not pay diffusers' import time; they share the training betas. This module drives the
loop: condition computed once, classifier-free guidance, progress, cancel.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

from backend.errors import Cancelled

from .config import DiffusionConfig
from .gesture import GestureModel
from .schedulers import Generators, NoiseSchedule, Sampler, draw_noise, make_sampler

__all__ = ["GestureDiffusion"]

ProgressFn = Callable[[int, int, str], None]
CancelFn = Callable[[], bool]


class GestureDiffusion:
    """Noise schedule + objective from a ``DiffusionConfig``; samplers built on demand."""

    def __init__(self, config: DiffusionConfig):
        config.validate()
        self.config = config
        self.train_scheduler = NoiseSchedule(config)

    def scheduler(self, name: str) -> Sampler:
        """A fresh sampler with the training betas (``ddpm``, ``ddim``, ``dpmsolver++``)."""
        return make_sampler(name, self.train_scheduler)

    def training_loss(
        self,
        model: GestureModel,
        x0: torch.Tensor,
        audio: torch.Tensor,
        style_audio: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """L2 between the model output and its target (ε, x0 or v), with audio dropped at random."""
        batch = x0.shape[0]
        device = generator.device if generator is not None else x0.device
        timesteps = torch.randint(0, self.config.num_train_timesteps, (batch,), generator=generator, device=device)
        noise = torch.randn(x0.shape, generator=generator, device=device, dtype=x0.dtype)
        drop = torch.rand(batch, generator=generator, device=device) < self.config.cond_drop_prob
        timesteps, noise, drop = timesteps.to(x0.device), noise.to(x0.device), drop.to(x0.device)

        x_t = self.train_scheduler.add_noise(x0, noise, timesteps)
        prediction = model(x_t, timesteps, audio, style_audio=style_audio, drop_audio=drop)
        kind = self.config.prediction_type
        if kind == "epsilon":
            target = noise
        elif kind == "sample":
            target = x0
        else:
            target = self.train_scheduler.get_velocity(x0, noise, timesteps)
        return F.mse_loss(prediction.float(), target.float())

    @torch.no_grad()
    def sample(
        self,
        model: GestureModel,
        audio: torch.Tensor,
        num_frames: int,
        sampler: str = "ddim",
        steps: int = 50,
        generator: torch.Generator | None = None,
        guidance_scale: float = 1.0,
        progress: ProgressFn | None = None,
        cancel: CancelFn | None = None,
        style_audio: torch.Tensor | None = None,
        progress_offset: int = 0,
        progress_total: int | None = None,
    ) -> torch.Tensor:
        """Normalised pose features (B, num_frames, F) for frontend features ``audio`` (B, T_a, C).

        Deterministic for a given ``generator`` state (a CPU generator gives the same result on
        every device). ``guidance_scale`` > 1 mixes conditional and unconditional predictions.
        ``progress(step, total, "denoising")`` follows every step, offset by ``progress_offset``
        so that windowed generation reports one running count; ``cancel()`` returning True
        raises ``Cancelled`` before the next step.
        """
        cond = model.condition(audio, num_frames, style_audio)
        return self.sample_from_condition(
            model, cond, sampler=sampler, steps=steps, generator=generator, guidance_scale=guidance_scale,
            progress=progress, cancel=cancel, progress_offset=progress_offset, progress_total=progress_total,
        )

    @torch.no_grad()
    def sample_from_condition(
        self,
        model: GestureModel,
        cond: torch.Tensor,
        sampler: str = "ddim",
        steps: int = 50,
        generator: Generators = None,
        guidance_scale: float = 1.0,
        progress: ProgressFn | None = None,
        cancel: CancelFn | None = None,
        progress_offset: int = 0,
        progress_total: int | None = None,
    ) -> torch.Tensor:
        """The denoising loop on an audio latent ``cond`` (B, T, D) from ``model.condition``.

        ``generator`` may be a list, one per row: then each row's noise comes from its own
        generator and does not depend on the rows batched with it.
        """
        if steps < 1:
            raise ValueError(f"steps must be >= 1, got {steps}")
        scheduler = self.scheduler(sampler)
        scheduler.set_timesteps(steps, device=cond.device)
        batch, num_frames = cond.shape[:2]
        guided = guidance_scale != 1.0
        if guided:
            cond = torch.cat([cond, model.null_condition(batch, num_frames)])

        shape = (batch, num_frames, model.config.pose_dim)
        x = draw_noise(shape, generator, cond.device, cond.dtype) * scheduler.init_noise_sigma
        total = progress_total if progress_total is not None else len(scheduler.timesteps)
        for i, t in enumerate(scheduler.timesteps):
            if cancel is not None and cancel():
                raise Cancelled("generation cancelled")
            model_in = scheduler.scale_model_input(torch.cat([x, x]) if guided else x, t)
            out = model.denoise(model_in, t, cond)
            if guided:
                out_cond, out_uncond = out.chunk(2)
                out = out_uncond + guidance_scale * (out_cond - out_uncond)
            x = scheduler.step(out, t, x, generator=generator)
            if progress is not None:
                progress(progress_offset + i + 1, total, "denoising")
        return x
