"""Sinusoidal timestep features and their MLP, with diffusers' parameter names and numbers.

Why not ``diffusers.models.embeddings``: importing it loads ``torch._dynamo`` (seconds at every
start) for two small layers. Same state-dict keys (``linear_1``, ``linear_2``), so checkpoints
load either way; ``tests/backend/test_timestep.py`` checks the outputs against diffusers.
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["Timesteps", "TimestepEmbedding"]


class Timesteps(nn.Module):
    """Timesteps (B,) -> (B, num_channels) sin/cos features (diffusers' ``get_timestep_embedding``)."""

    def __init__(self, num_channels: int, flip_sin_to_cos: bool = True, downscale_freq_shift: float = 0.0,
                 max_period: int = 10000):
        super().__init__()
        self.num_channels = num_channels
        self.flip_sin_to_cos = flip_sin_to_cos
        self.downscale_freq_shift = downscale_freq_shift
        self.max_period = max_period

    def forward(self, timesteps: torch.Tensor) -> torch.Tensor:
        half = self.num_channels // 2
        exponent = -math.log(self.max_period) * torch.arange(half, dtype=torch.float32, device=timesteps.device)
        freqs = torch.exp(exponent / (half - self.downscale_freq_shift))
        angles = timesteps.reshape(-1)[:, None].float() * freqs[None, :]
        parts = [torch.cos(angles), torch.sin(angles)] if self.flip_sin_to_cos else [torch.sin(angles), torch.cos(angles)]
        emb = torch.cat(parts, dim=-1)
        return nn.functional.pad(emb, (0, 1)) if self.num_channels % 2 else emb


class TimestepEmbedding(nn.Module):
    """Linear -> SiLU -> Linear on the timestep features."""

    def __init__(self, in_channels: int, dim: int):
        super().__init__()
        self.linear_1 = nn.Linear(in_channels, dim)
        self.act = nn.SiLU()
        self.linear_2 = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear_2(self.act(self.linear_1(x)))
