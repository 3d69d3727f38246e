"""Shared helpers for the model tests: open adaLN-Zero gates, perturb a tiny model, a tiny random WavLM on disk."""

from __future__ import annotations

from pathlib import Path

import torch


def open_gates(model: torch.nn.Module, scale: float = 0.05, seed: int = 1) -> torch.nn.Module:
    """Randomise the zero-initialised adaLN and output layers, as training would, so that an
    untrained model's output depends on every input."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "adaLN_modulation" in name or name.startswith("denoiser.final.linear"):
                p.copy_(torch.randn(p.shape, generator=gen) * scale)
    return model


def perturb(model: torch.nn.Module, scale: float = 0.05, seed: int = 0) -> torch.nn.Module:
    """Add small noise to every parameter (adaLN-Zero gates included), so that an untrained model's
    output depends on audio, style and seed as a trained one's would."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=gen) * scale)
    return model


def save_tiny_wavlm(folder: Path) -> Path:
    """A random WavLM (hidden 64, 2 layers) saved with save_pretrained: real loading, no network."""
    from transformers import WavLMConfig, WavLMModel

    torch.manual_seed(0)
    config = WavLMConfig(
        hidden_size=64, num_hidden_layers=2, num_attention_heads=2, intermediate_size=128,
        conv_dim=(32,) * 7, num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=4,
        num_buckets=32, max_bucket_distance=100,
    )
    WavLMModel(config).save_pretrained(folder)
    return folder
