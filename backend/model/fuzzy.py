"""Fuzzy feature extractor: frontend frames (B, T_a, C) -> per-motion-frame audio latent (B, T, D).

Why two branches (Persona-Gestor / DiM-Gesture): a *local* branch keeps the timing of speech at
the motion frame rate, and a *style* branch summarises the whole clip (or a separate reference
clip) into one vector that colours every frame, which is how style is learned without labels.
Unlike Persona-Gestor's 20-second dilated convolution, both branches accept any length.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from backend.nn.mamba2 import Mamba2

from .config import ModelConfig

__all__ = ["FuzzyFeatureExtractor", "resample_frames"]


def resample_frames(x: torch.Tensor, num_frames: int) -> torch.Tensor:
    """(B, T_in, D) -> (B, num_frames, D) for any rate ratio.

    Downsampling averages the input frames that fall into each output frame (no aliasing);
    upsampling interpolates linearly.
    """
    if x.shape[1] == num_frames:
        return x
    x = x.transpose(1, 2)
    if num_frames < x.shape[-1]:
        x = F.adaptive_avg_pool1d(x, num_frames)
    else:
        x = F.interpolate(x, size=num_frames, mode="linear", align_corners=False)
    return x.transpose(1, 2)


class _ResidualMamba(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.norm = nn.LayerNorm(cfg.hidden)
        self.mixer = Mamba2(
            cfg.hidden, d_state=cfg.d_state, d_conv=cfg.d_conv, expand=cfg.expand,
            headdim=cfg.headdim, chunk_size=cfg.chunk_size,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.mixer(self.norm(x))


class StyleBranch(nn.Module):
    """Mamba-2 over the whole clip, mean-pooled into one global style vector (B, D)."""

    def __init__(self, in_dim: int, cfg: ModelConfig):
        super().__init__()
        self.proj = nn.Linear(in_dim, cfg.hidden)
        self.layers = nn.ModuleList(_ResidualMamba(cfg) for _ in range(cfg.style_depth))
        self.norm = nn.LayerNorm(cfg.hidden)
        self.out = nn.Linear(cfg.hidden, cfg.hidden)

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        h = self.proj(audio)
        for layer in self.layers:
            h = layer(h)
        return self.out(self.norm(h).mean(dim=1))


class FuzzyFeatureExtractor(nn.Module):
    """Local branch (Conv1d + LayerNorm + LeakyReLU(0.2), resampled to T frames) + style vector."""

    def __init__(self, in_dim: int, cfg: ModelConfig, dropout: float = 0.0):
        super().__init__()
        self.local_conv = nn.Conv1d(in_dim, cfg.hidden, kernel_size=3, padding=1)
        self.local_norm = nn.LayerNorm(cfg.hidden)
        self.local_out = nn.Linear(cfg.hidden, cfg.hidden)
        self.style = StyleBranch(in_dim, cfg) if cfg.style else None
        self.dropout = nn.Dropout(dropout)

    def forward(self, audio: torch.Tensor, num_frames: int, style_audio: torch.Tensor | None = None) -> torch.Tensor:
        """``audio`` (B, T_a, C) -> (B, num_frames, D); style from ``style_audio`` when given."""
        if num_frames < 1:
            raise ValueError(f"num_frames must be >= 1, got {num_frames}")
        h = self.local_conv(audio.transpose(1, 2)).transpose(1, 2)
        h = F.leaky_relu(self.local_norm(h), 0.2)
        h = self.local_out(resample_frames(h, num_frames))
        if self.style is not None:
            h = h + self.style(audio if style_audio is None else style_audio)[:, None, :]
        return self.dropout(h)
