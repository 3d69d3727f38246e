"""Frozen audio frontends: 16 kHz waveform (B, N) -> feature frames (B, T_a, C).

Why a separate, frozen module: training reads cached frontend features, and the paper's
WavLM-Large cannot be fetched on every machine, so a weight-free log-mel frontend stands in
behind the same interface (``frame_rate`` in Hz, ``dim`` channels).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..audio import SPEECH_SAMPLE_RATE
from .config import FrontendConfig

__all__ = ["MelFrontend", "WavLMFrontend", "build_frontend", "slaney_mel_filter_bank"]


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    """Slaney's mel scale: linear below 1 kHz, logarithmic above."""
    hz = np.asarray(hz, dtype=np.float64)
    return np.where(hz >= 1000.0, 15.0 + np.log(np.maximum(hz, 1e-10) / 1000.0) * (27.0 / np.log(6.4)), 3.0 * hz / 200.0)


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    return np.where(mel >= 15.0, 1000.0 * np.exp(np.log(6.4) / 27.0 * (mel - 15.0)), 200.0 * mel / 3.0)


def slaney_mel_filter_bank(num_bins: int, n_mels: int, sample_rate: int) -> np.ndarray:
    """(num_bins, n_mels) triangular filters from 0 Hz to Nyquist, Slaney scale and area norm.

    The numbers of ``transformers.audio_utils.mel_filter_bank(..., norm="slaney",
    mel_scale="slaney")`` (checked in the tests), without importing transformers at start-up.
    """
    edges = _mel_to_hz(np.linspace(_hz_to_mel(0.0), _hz_to_mel(sample_rate / 2), n_mels + 2))
    bins = np.linspace(0, sample_rate // 2, num_bins)
    slopes = edges[None, :] - bins[:, None]
    widths = np.diff(edges)
    down = -slopes[:, :-2] / widths[:-1]
    up = slopes[:, 2:] / widths[1:]
    bank = np.maximum(0.0, np.minimum(down, up))
    return bank * (2.0 / (edges[2:] - edges[:-2]))[None, :]


class MelFrontend(nn.Module):
    """Log-mel spectrogram at 50 Hz (25 ms Hann window, hop 320 at 16 kHz), about [-1, 2]."""

    hop_length = 320
    win_length = 400
    n_fft = 512

    def __init__(self, n_mels: int = 80, sample_rate: int = SPEECH_SAMPLE_RATE):
        super().__init__()
        self.sample_rate = sample_rate
        self.dim = n_mels
        self.frame_rate = sample_rate / self.hop_length
        bank = slaney_mel_filter_bank(self.n_fft // 2 + 1, n_mels, sample_rate)
        self.register_buffer("mel_bank", torch.tensor(bank, dtype=torch.float32), persistent=False)
        self.register_buffer("window", torch.hann_window(self.win_length), persistent=False)

    @torch.no_grad()
    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        spec = torch.stft(
            wave.float(),
            self.n_fft,
            hop_length=self.hop_length,
            win_length=self.win_length,
            window=self.window,
            center=True,
            pad_mode="constant",
            return_complex=True,
        )
        power = spec.real.square() + spec.imag.square()  # (B, n_freq, T_a)
        mel = torch.einsum("bft,fm->btm", power, self.mel_bank)
        # A fixed floor (not one relative to the clip's peak), so a frame's features do not depend
        # on the rest of the clip: cached takes, windows and whole clips agree. Silence -> -1.
        log_mel = torch.log10(mel.clamp(min=1e-8))
        return (log_mel + 4.0) / 4.0


class WavLMFrontend(nn.Module):
    """Frozen transformers ``WavLMModel``: one hidden layer, or a learned softmax mix of all layers.

    The waveform is layer-normalised per clip first (as WavLM was trained). With
    ``layer="weighted"`` the mixing weights are the only trainable parameters, so its output
    cannot be cached; a fixed layer can.
    """

    min_samples = 400  # the CNN encoder's receptive field

    def __init__(self, path: str, layer: int | str = 12, sample_rate: int = SPEECH_SAMPLE_RATE):
        super().__init__()
        from transformers import WavLMModel

        # A local folder (e.g. inside a checkpoint) must hold safetensors: a pickled
        # pytorch_model.bin there is refused unread, never unpickled.
        self.wavlm = WavLMModel.from_pretrained(path, use_safetensors=True if Path(path).is_dir() else None)
        self.wavlm.requires_grad_(False)
        self.wavlm.eval()
        config = self.wavlm.config
        self.sample_rate = sample_rate
        self.dim = config.hidden_size
        self.frame_rate = sample_rate / math.prod(config.conv_stride)
        n_layers = config.num_hidden_layers
        if layer == "weighted":
            self.layer_weights = nn.Parameter(torch.zeros(n_layers + 1))
        elif not 0 <= layer <= n_layers:
            raise ValueError(f"WavLM at {path} has {n_layers} layers; layer {layer} does not exist")
        self.layer = layer

    def train(self, mode: bool = True) -> "WavLMFrontend":
        super().train(mode)
        self.wavlm.eval()  # frozen: never enable its dropout
        return self

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        wave = wave.float()
        if wave.shape[-1] < self.min_samples:
            wave = F.pad(wave, (0, self.min_samples - wave.shape[-1]))
        wave = F.layer_norm(wave, wave.shape[-1:], eps=1e-7)
        with torch.no_grad():
            hidden = self.wavlm(wave, output_hidden_states=True).hidden_states
        if self.layer == "weighted":
            weights = torch.softmax(self.layer_weights, dim=0)
            return torch.einsum("l,lbtc->btc", weights, torch.stack(hidden))
        return hidden[self.layer]


def build_frontend(cfg: FrontendConfig, base_dir: str | Path | None = None) -> nn.Module:
    """The frontend a config names; a relative ``wavlm_path`` is looked up in ``base_dir`` first."""
    cfg.validate()
    if cfg.kind == "mel":
        return MelFrontend(cfg.n_mels, cfg.sample_rate)
    path = cfg.wavlm_path
    if base_dir is not None and not Path(path).is_absolute() and (Path(base_dir) / path).is_dir():
        path = str(Path(base_dir) / path)
    frontend = WavLMFrontend(path, cfg.wavlm_layer, cfg.sample_rate)
    if frontend.dim != cfg.wavlm_dim:
        raise ValueError(f"WavLM at {path} has hidden size {frontend.dim}, but the config says wavlm_dim={cfg.wavlm_dim}")
    return frontend
