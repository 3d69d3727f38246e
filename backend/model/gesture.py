"""GestureModel: the trainable network (fuzzy feature extractor + AdaLN denoiser).

Why split ``condition`` from ``denoise``: the audio latent depends only on the audio, so a
sampler computes it once and reuses it at every denoising step (DESIGN.md §3).
"""

from __future__ import annotations

import torch
from torch import nn

from .config import ModelConfig
from .denoiser import Denoiser
from .fuzzy import FuzzyFeatureExtractor

__all__ = ["GestureModel"]


class GestureModel(nn.Module):
    """``forward(x_t (B,T,F), timesteps (B,), audio (B,T_a,C), style_audio, drop_audio) -> (B,T,F)``.

    ``dropout`` (on the audio latent) is a training setting (``train.dropout``), not part of the config:
    a checkpoint's model is built without it, and it does nothing in eval mode anyway.
    """

    def __init__(self, config: ModelConfig, dropout: float = 0.0):
        super().__init__()
        config.validate()
        if config.pose_dim is None:
            raise ValueError("model.pose_dim is not set: it comes from the data (the dataset cache, or the skeleton)")
        self.config = config
        self.fuzzy = FuzzyFeatureExtractor(config.frontend.dim, config, dropout)
        # Classifier-free guidance: the latent of "no audio", learned.
        self.null_audio = nn.Parameter(torch.randn(config.hidden) * 0.02)
        self.denoiser = Denoiser(config)

    def condition(
        self,
        audio: torch.Tensor,
        num_frames: int,
        style_audio: torch.Tensor | None = None,
        drop_audio: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Audio latent (B, num_frames, D); rows where ``drop_audio`` is True become the null latent."""
        if audio.dim() != 3 or audio.shape[-1] != self.config.frontend.dim:
            raise ValueError(
                f"GestureModel: expected audio features (batch, frames, {self.config.frontend.dim}), got {tuple(audio.shape)}"
            )
        latent = self.fuzzy(audio, num_frames, style_audio)
        if drop_audio is not None:
            latent = torch.where(drop_audio.reshape(-1, 1, 1).to(latent.device), self.null_audio.to(latent.dtype), latent)
        return latent

    def null_condition(self, batch: int, num_frames: int) -> torch.Tensor:
        """The unconditional latent (B, num_frames, D) used by classifier-free guidance."""
        return self.null_audio.expand(batch, num_frames, -1)

    def denoise(self, x_t: torch.Tensor, timesteps: torch.Tensor, latent: torch.Tensor) -> torch.Tensor:
        if x_t.dim() != 3 or x_t.shape[-1] != self.config.pose_dim:
            raise ValueError(f"GestureModel: expected x_t (batch, frames, {self.config.pose_dim}), got {tuple(x_t.shape)}")
        timesteps = torch.as_tensor(timesteps, device=x_t.device).reshape(-1).expand(x_t.shape[0])
        return self.denoiser(x_t, timesteps, latent)

    def forward(
        self,
        x_t: torch.Tensor,
        timesteps: torch.Tensor,
        audio: torch.Tensor,
        style_audio: torch.Tensor | None = None,
        drop_audio: torch.Tensor | None = None,
    ) -> torch.Tensor:
        return self.denoise(x_t, timesteps, self.condition(audio, x_t.shape[1], style_audio, drop_audio))
