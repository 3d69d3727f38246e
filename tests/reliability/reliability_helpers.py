"""Helpers shared by the reliability tests (a uniquely named module: conftest.py is not importable)."""

from __future__ import annotations

import numpy as np

SAMPLE_RATE = 16000


def speech_like(seconds: float, rate: int = SAMPLE_RATE, channels: int = 1, seed: int = 0) -> np.ndarray:
    """A deterministic voiced-sounding test signal (harmonics with a syllable-rate envelope)."""
    t = np.arange(int(round(seconds * rate))) / rate
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 4.0 * t) ** 2
    wave = sum(np.sin(2 * np.pi * f * t) / k for k, f in enumerate((140.0, 280.0, 420.0), start=1))
    wave = (0.2 * envelope * wave).astype(np.float32)
    if channels == 1:
        return wave
    rng = np.random.default_rng(seed)
    return np.stack([wave * rng.uniform(0.5, 1.0) for _ in range(channels)], axis=1).astype(np.float32)
