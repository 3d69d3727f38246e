"""AdaLN denoiser (DiT-style blocks) with a Mamba-2 or self-attention mixer.

Why: DiM-Gesture's claim is that Mamba-2 can replace the Transformer in Persona-Gestor's AdaLN
denoiser. Both mixers sit in the same block (shift/scale/gate from ``c = timestep embedding +
audio latent``, adaLN-Zero init, MLP branch), so the two can be compared like for like.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from backend.nn.mamba2 import Mamba2, Mamba2Weights
from backend.nn.shared_bidirectional import SharedBidirectionalMamba2

from .config import ModelConfig

__all__ = ["AdaLNBlock", "BidirectionalMamba2", "Denoiser", "FinalLayer", "SelfAttention", "build_mixer"]


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return x * (1 + scale) + shift


def rotary_angles(length: int, headdim: int, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """cos/sin tables (T, hd/2) of the rotary position embedding, shared by queries and keys."""
    half = headdim // 2
    freqs = 10000.0 ** (-torch.arange(half, device=like.device, dtype=torch.float32) / half)
    angles = torch.arange(length, device=like.device, dtype=torch.float32)[:, None] * freqs
    return angles.cos().to(like.dtype), angles.sin().to(like.dtype)


def rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotary position embedding over (B, H, T, hd): relative positions, so any length works."""
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)


class SelfAttention(nn.Module):
    """Multi-head self-attention with rotary positions (the DiT baseline's mixer)."""

    def __init__(self, dim: int, headdim: int):
        super().__init__()
        if dim % headdim or headdim % 2:
            raise ValueError(f"attention: hidden {dim} must be a multiple of an even headdim, got {headdim}")
        self.heads = dim // headdim
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        cos, sin = rotary_angles(t, d // self.heads, q)
        y = F.scaled_dot_product_attention(rotary(q, cos, sin), rotary(k, cos, sin), v)
        return self.out(y.transpose(1, 2).reshape(b, t, d))


class BidirectionalMamba2(nn.Module):
    """Average of a forward Mamba-2 and one run over the time-reversed sequence.

    Generation is non-autoregressive, so every frame may look at the future as well. The two
    layers keep their own parameters (``forward_scan.*``, ``backward_scan.*``) but run as one:
    the input and its reversal are stacked, and each projection, the convolution and the scan
    is a single batched call over both (``Mamba2.forward_directions``). Without autograd the
    stacked weights are kept until a parameter changes.
    """

    def __init__(self, **kwargs):
        super().__init__()
        self.forward_scan = Mamba2(**kwargs)
        self.backward_scan = Mamba2(**kwargs)
        self._stacked: tuple[tuple, Mamba2Weights] | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.forward_scan._kernel_wanted(x, None):  # CUDA with mamba-ssm: its fused kernel per direction
            return 0.5 * (self.forward_scan(x) + self.backward_scan(x.flip(1)).flip(1))
        if x.dim() != 3 or x.shape[-1] != self.forward_scan.d_model or x.shape[1] == 0:
            raise ValueError(f"BidirectionalMamba2: expected (batch, length >= 1, {self.forward_scan.d_model}), got {tuple(x.shape)}")
        out, _ = self.forward_scan.forward_directions(x, self.weights(), (False, True))
        return 0.5 * out

    def _parameters_list(self) -> list[nn.Parameter]:
        """Both layers' parameters (``parameters()`` without its generator overhead, per call)."""
        modules = [m for layer in (self.forward_scan, self.backward_scan) for m in (layer, *layer.children())]
        return [p for m in modules for p in m._parameters.values() if p is not None]

    def weights(self) -> Mamba2Weights:
        """Both layers' weights stacked (direction first); reused while no parameter changed."""
        layers = [self.forward_scan, self.backward_scan]
        if torch.is_grad_enabled() and any(p.requires_grad for p in self.parameters()):
            return Mamba2Weights.of(layers)
        key = (torch.is_inference_mode_enabled(), *[(p.data_ptr(), p._version, p.dtype) for p in self._parameters_list()])
        if self._stacked is None or self._stacked[0] != key:
            self._stacked = (key, Mamba2Weights.of(layers))
        return self._stacked[1]


def build_mixer(cfg: ModelConfig) -> nn.Module:
    if cfg.mixer == "attention":
        return SelfAttention(cfg.hidden, cfg.headdim)
    kwargs = dict(
        d_model=cfg.hidden, d_state=cfg.d_state, d_conv=cfg.d_conv, expand=cfg.expand,
        headdim=cfg.headdim, chunk_size=cfg.chunk_size,
    )
    if not cfg.bidirectional:
        return Mamba2(**kwargs)
    return SharedBidirectionalMamba2(**kwargs) if cfg.bidirectional_layout == "shared" else BidirectionalMamba2(**kwargs)


MLP_SEGMENT = 2048  # frames per MLP pass without autograd, see AdaLNBlock.forward


class AdaLNBlock(nn.Module):
    """``x + gate * mixer(modulate(LN(x)))`` then ``x + gate * MLP(modulate(LN(x)))``; identity at init."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        d = cfg.hidden
        self.norm1 = nn.LayerNorm(d, elementwise_affine=False, eps=1e-6)
        self.mixer = build_mixer(cfg)
        self.norm2 = nn.LayerNorm(d, elementwise_affine=False, eps=1e-6)
        hidden = int(d * cfg.mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(d, hidden), nn.GELU(approximate="tanh"), nn.Linear(hidden, d))
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(d, 6 * d))
        nn.init.zeros_(self.adaLN_modulation[-1].weight)  # adaLN-Zero: gates start closed
        nn.init.zeros_(self.adaLN_modulation[-1].bias)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        shift1, scale1, gate1, shift2, scale2, gate2 = self.adaLN_modulation(c).chunk(6, dim=-1)
        x = x + gate1 * self.mixer(modulate(self.norm1(x), shift1, scale1))
        if torch.is_grad_enabled() or x.shape[1] <= MLP_SEGMENT:
            return x + gate2 * self.mlp(modulate(self.norm2(x), shift2, scale2))
        # Without autograd, long sequences: the per-frame MLP branch in segments, so that its
        # 4x-wide hidden activations never exist for the whole sequence at once (same numbers,
        # less peak memory; both mixers' denoisers share this).
        out = torch.empty_like(x)
        for start in range(0, x.shape[1], MLP_SEGMENT):
            part = slice(start, start + MLP_SEGMENT)
            shift, scale, gate = (t[:, part] if t.shape[1] > 1 else t for t in (shift2, scale2, gate2))
            out[:, part] = x[:, part] + gate * self.mlp(modulate(self.norm2(x[:, part]), shift, scale))
        return out


class FinalLayer(nn.Module):
    """AdaLN + linear projection to the pose features, zero-initialised (the model starts at 0)."""

    def __init__(self, dim: int, out_dim: int):
        super().__init__()
        self.norm = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(dim, 2 * dim))
        self.linear = nn.Linear(dim, out_dim)
        for layer in (self.adaLN_modulation[-1], self.linear):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        shift, scale = self.adaLN_modulation(c).chunk(2, dim=-1)
        return self.linear(modulate(self.norm(x), shift, scale))


class Denoiser(nn.Module):
    """Noisy pose features (B, T, F) + timesteps (B,) + audio latent (B, T, D) -> (B, T, F)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        from ..nn.timestep import TimestepEmbedding, Timesteps

        d = cfg.hidden
        self.pose_in = nn.Conv1d(cfg.pose_dim, d, kernel_size=3, padding=1)
        self.time_proj = Timesteps(256, flip_sin_to_cos=True, downscale_freq_shift=0)
        self.time_embed = TimestepEmbedding(256, d)
        self.blocks = nn.ModuleList(AdaLNBlock(cfg) for _ in range(cfg.depth))
        self.final = FinalLayer(d, cfg.pose_dim)

    def forward(self, x_t: torch.Tensor, timesteps: torch.Tensor, audio_latent: torch.Tensor) -> torch.Tensor:
        h = self.pose_in(x_t.transpose(1, 2)).transpose(1, 2)
        t_emb = self.time_embed(self.time_proj(timesteps.reshape(-1)).to(h.dtype))
        c = t_emb[:, None, :] + audio_latent
        for block in self.blocks:
            h = block(h, c)
        return self.final(h, c)
