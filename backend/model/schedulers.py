"""The three samplers we ship (DDPM ancestral, DDIM, DPM-Solver++ 2M), in plain torch.

Why not diffusers' schedulers: importing them costs seconds at every start (``diffusers`` pulls
in ``torch._dynamo`` and its DPM-Solver module ``scipy.stats``), more than the whole generation of
a short clip. These classes reproduce diffusers' numbers for the settings we use (same float32
betas, "leading" spacing for DDPM/DDIM, "linspace" and a zero final sigma for DPM-Solver++,
midpoint 2nd order with a lower-order final step) — ``tests/backend/test_schedulers.py`` checks
them against diffusers step by step. ``generator`` may be one ``torch.Generator`` or one per
batch row, so a clip's noise does not depend on the clips batched with it.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from backend.checkpoint import read_json, write_json
from backend.errors import CheckpointError

from .config import SAMPLERS, SchedulerConfig

__all__ = ["GestureScheduler", "SCHEDULER_FILE", "NoiseSchedule", "Sampler", "DDPMSampler", "DDIMSampler", "DPMSolverSampler", "make_sampler", "draw_noise"]

SCHEDULER_FILE = "scheduler_config.json"
Generators = torch.Generator | Sequence[torch.Generator] | None


def draw_noise(shape: tuple[int, ...], generator: Generators, device: torch.device | str, dtype: torch.dtype) -> torch.Tensor:
    """Standard normal noise; with a list of generators row ``i`` comes from ``generator[i]``.

    Drawn on the generator's device and moved, so a CPU generator gives the same noise everywhere.
    """
    if isinstance(generator, Sequence):
        if len(generator) != shape[0]:
            raise ValueError(f"{len(generator)} generators for a batch of {shape[0]}")
        rows = [torch.randn((1, *shape[1:]), generator=g, device=g.device, dtype=dtype) for g in generator]
        return torch.cat([r.to(device) for r in rows])
    rand_device = generator.device if generator is not None else device
    return torch.randn(shape, generator=generator, device=rand_device, dtype=dtype).to(device)


class NoiseSchedule:
    """Training betas and ᾱ (float32, as diffusers computes them), forward noising, v-targets."""

    def __init__(self, config: SchedulerConfig):
        config.validate()
        self.config = config
        n = config.num_train_timesteps
        if config.beta_schedule == "linear":
            betas = torch.linspace(config.beta_start, config.beta_end, n, dtype=torch.float32)
        elif config.beta_schedule == "scaled_linear":
            betas = torch.linspace(config.beta_start**0.5, config.beta_end**0.5, n, dtype=torch.float32) ** 2
        else:  # squaredcos_cap_v2 (Nichol & Dhariwal's cosine schedule)
            def alpha_bar(t: float) -> float:
                return math.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2

            betas = torch.tensor([min(1 - alpha_bar((i + 1) / n) / alpha_bar(i / n), 0.999) for i in range(n)],
                                 dtype=torch.float32)
        self.betas = betas
        self.alphas_cumprod = torch.cumprod(1.0 - betas, dim=0)

    def _coefficients(self, x: torch.Tensor, timesteps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        abar = self.alphas_cumprod.to(device=x.device, dtype=x.dtype)[timesteps.to(x.device)].flatten()
        shape = (-1,) + (1,) * (x.dim() - 1)
        return (abar**0.5).reshape(shape), ((1 - abar) ** 0.5).reshape(shape)

    def add_noise(self, x0: torch.Tensor, noise: torch.Tensor, timesteps: torch.Tensor) -> torch.Tensor:
        """x_t = √ᾱ_t x0 + √(1-ᾱ_t) ε."""
        a, s = self._coefficients(x0, timesteps)
        return a * x0 + s * noise

    def get_velocity(self, x0: torch.Tensor, noise: torch.Tensor, timesteps: torch.Tensor) -> torch.Tensor:
        """v = √ᾱ_t ε - √(1-ᾱ_t) x0 (the v-prediction target)."""
        a, s = self._coefficients(x0, timesteps)
        return a * noise - s * x0


class Sampler:
    """``set_timesteps(steps)``, then ``x = step(model_output, t, x)`` for each ``t`` in ``timesteps``."""

    init_noise_sigma = 1.0

    def __init__(self, schedule: NoiseSchedule):
        self.schedule = schedule
        self.betas = schedule.betas
        self.alphas_cumprod = schedule.alphas_cumprod
        self.prediction_type = schedule.config.prediction_type
        self.timesteps = torch.zeros(0, dtype=torch.int64)

    def set_timesteps(self, steps: int, device: torch.device | str | None = None) -> None:
        n = self.schedule.config.num_train_timesteps
        if not 1 <= steps <= n:
            raise ValueError(f"steps must be between 1 and {n} (the training timesteps), got {steps}")
        self.timesteps = torch.from_numpy(self._timesteps(steps, n)).to(device)
        self._list = [int(t) for t in self.timesteps.cpu()]

    def _timesteps(self, steps: int, n: int) -> np.ndarray:
        """"leading" spacing: 0, n//steps, 2·n//steps, ... reversed."""
        return (np.arange(0, steps) * (n // steps)).round()[::-1].copy().astype(np.int64)

    def scale_model_input(self, x: torch.Tensor, t) -> torch.Tensor:
        return x

    def _x0_and_eps(self, out: torch.Tensor, x: torch.Tensor, abar: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        beta = 1 - abar
        if self.prediction_type == "epsilon":
            x0 = (x - beta**0.5 * out) / abar**0.5
            return x0, out
        if self.prediction_type == "sample":
            return out, (x - abar**0.5 * out) / beta**0.5
        return abar**0.5 * x - beta**0.5 * out, abar**0.5 * out + beta**0.5 * x

    def step(self, out: torch.Tensor, t, x: torch.Tensor, generator: Generators = None) -> torch.Tensor:
        raise NotImplementedError


class DDPMSampler(Sampler):
    """Ancestral sampling with the posterior ("fixed small") variance: the paper's 1000-step sampler."""

    def step(self, out, t, x, generator=None):
        i = self._list.index(int(t))
        t = self._list[i]
        prev = self._list[i + 1] if i + 1 < len(self._list) else -1
        abar = self.alphas_cumprod[t]
        abar_prev = self.alphas_cumprod[prev] if prev >= 0 else torch.tensor(1.0)
        beta, beta_prev = 1 - abar, 1 - abar_prev
        alpha = abar / abar_prev
        x0, _ = self._x0_and_eps(out, x, abar)
        mean = (abar_prev**0.5 * (1 - alpha)) / beta * x0 + alpha**0.5 * beta_prev / beta * x
        if t == 0:
            return mean
        variance = torch.clamp(beta_prev / beta * (1 - abar / abar_prev), min=1e-20)
        return mean + variance**0.5 * draw_noise(tuple(out.shape), generator, out.device, out.dtype)


class DDIMSampler(Sampler):
    """Deterministic DDIM (η = 0); the last step lands on ᾱ_0, not 1 (``set_alpha_to_one=False``)."""

    def step(self, out, t, x, generator=None):
        t = int(t)
        prev = t - self.schedule.config.num_train_timesteps // len(self._list)
        abar = self.alphas_cumprod[t]
        abar_prev = self.alphas_cumprod[prev] if prev >= 0 else self.alphas_cumprod[0]
        x0, eps = self._x0_and_eps(out, x, abar)
        return abar_prev**0.5 * x0 + (1 - abar_prev) ** 0.5 * eps


class DPMSolverSampler(Sampler):
    """DPM-Solver++ 2M (midpoint), data prediction, first order at the start and at the end."""

    def __init__(self, schedule: NoiseSchedule):
        super().__init__(schedule)
        abar = self.alphas_cumprod
        self._all_sigmas = (((1 - abar) / abar) ** 0.5).numpy()

    def _timesteps(self, steps: int, n: int) -> np.ndarray:
        """"linspace" spacing over [0, n-1], the final 0 dropped."""
        return np.linspace(0, n - 1, steps + 1).round()[::-1][:-1].copy().astype(np.int64)

    def set_timesteps(self, steps, device=None):
        super().set_timesteps(steps, device)
        sigmas = self._all_sigmas[np.asarray(self._list)]
        self.sigmas = torch.from_numpy(np.concatenate([sigmas, [0.0]]).astype(np.float32))
        self._previous: torch.Tensor | None = None
        self._index = 0

    @staticmethod
    def _alpha_sigma_lambda(sigma: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        alpha = 1 / ((sigma**2 + 1) ** 0.5)
        sigma_t = sigma * alpha
        return alpha, sigma_t, torch.log(alpha) - torch.log(sigma_t)

    def step(self, out, t, x, generator=None):
        i, n = self._index, len(self._list)
        alpha_s, sigma_s, lambda_s = self._alpha_sigma_lambda(self.sigmas[i])
        if self.prediction_type == "epsilon":
            x0 = (x - sigma_s * out) / alpha_s
        elif self.prediction_type == "sample":
            x0 = out
        else:
            x0 = alpha_s * x - sigma_s * out
        alpha_t, sigma_t, lambda_t = self._alpha_sigma_lambda(self.sigmas[i + 1])
        h = lambda_t - lambda_s
        sample = x.to(torch.float32)
        first_order = self._previous is None or i == n - 1  # the final sigma is zero: Euler there
        if first_order:
            prev = (sigma_t / sigma_s) * sample - (alpha_t * (torch.exp(-h) - 1.0)) * x0
        else:
            _, _, lambda_s1 = self._alpha_sigma_lambda(self.sigmas[i - 1])
            r0 = (lambda_s - lambda_s1) / h
            d1 = (1.0 / r0) * (x0 - self._previous)
            prev = ((sigma_t / sigma_s) * sample - (alpha_t * (torch.exp(-h) - 1.0)) * x0
                    - 0.5 * (alpha_t * (torch.exp(-h) - 1.0)) * d1)
        self._previous = x0
        self._index += 1
        return prev.to(out.dtype)


_CLASSES = {"ddpm": DDPMSampler, "ddim": DDIMSampler, "dpmsolver++": DPMSolverSampler}


def make_sampler(name: str, schedule: NoiseSchedule) -> Sampler:
    """A fresh sampler of kind ``name`` (one of ``SAMPLERS``) on ``schedule``."""
    if name not in _CLASSES:
        raise ValueError(f"unknown sampler {name!r}; choose one of {', '.join(SAMPLERS)}")
    return _CLASSES[name](schedule)


class GestureScheduler:
    """The diffusion process of a checkpoint: its ``SchedulerConfig``, the training noise schedule, and
    fresh samplers on those betas. Saved as ``scheduler_config.json``, like a diffusers scheduler."""

    def __init__(self, config: SchedulerConfig):
        self.config = config.validate()
        self.schedule = NoiseSchedule(config)

    def sampler(self, name: str | None = None, steps: int | None = None, device: torch.device | str | None = None) -> Sampler:
        """A fresh sampler ``name`` (default the config's) with ``steps`` timesteps (default the config's) set."""
        sampler = make_sampler(name or self.config.sampler, self.schedule)
        sampler.set_timesteps(steps or self.config.steps, device=device)
        return sampler

    def save_pretrained(self, folder: str | Path) -> None:
        write_json(Path(folder) / SCHEDULER_FILE, self.config.to_dict())

    @classmethod
    def from_pretrained(cls, folder: str | Path) -> "GestureScheduler":
        path = Path(folder) / SCHEDULER_FILE
        try:
            return cls(SchedulerConfig.from_dict(read_json(path)))
        except ValueError as err:
            raise CheckpointError(f"{path}: {err}") from None
