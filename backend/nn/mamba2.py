"""Mamba-2 mixer layer with mamba-ssm's parameter layout, pure PyTorch plus an optional CUDA kernel.

Why: mamba-ssm does not import without CUDA, yet checkpoints must load into our layer,
``mamba_ssm.Mamba2`` and transformers' ``Mamba2Mixer`` alike. The layer therefore keeps their
exact parameter names and shapes, runs the chunked SSD scan of ``backend.nn.ssd`` anywhere, and
on CUDA uses mamba-ssm's fused ``mamba_split_conv1d_scan_combined`` when that imports.
"""

from __future__ import annotations

import functools
import math
import warnings
from typing import Callable, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from .ssd import ssd_scan

__all__ = ["Mamba2", "Mamba2State", "Mamba2Weights", "RMSNormGated", "fused_kernel", "gated_rms_norm", "init_ssm_parameters"]

SEGMENT_CHUNKS = 4  # chunks per segment of the PyTorch path (about 256 frames), see Mamba2.forward_directions; 2 (128 frames) took 5-14 % more CPU time at 1,000-12,000 frames in the shared layout, 1-5 % in the separate one, 1 and 2 threads (2026-12-06)


class Mamba2State(NamedTuple):
    """What a sequence leaves behind, so that its continuation can run as a separate call.

    ``conv``: the last ``d_conv - 1`` inputs of the causal convolution, ``(batch, conv_dim,
    d_conv - 1)``; ``ssm``: the SSM state, ``(batch, nheads, headdim, d_state)`` (mamba-ssm's
    layout), kept in at least float32.
    """

    conv: torch.Tensor
    ssm: torch.Tensor


@functools.cache
def fused_kernel() -> Callable | None:
    """mamba-ssm's fused scan, or None where mamba-ssm does not import (tried once, on demand).

    An installed but broken mamba-ssm (e.g. built for another CUDA) warns and falls back.
    """
    try:
        from mamba_ssm.ops.triton.ssd_combined import mamba_split_conv1d_scan_combined
    except ModuleNotFoundError as err:
        if err.name != "mamba_ssm":
            warnings.warn(f"mamba_ssm is installed but does not import ({err}); Mamba2 uses its PyTorch scan")
        return None
    except Exception as err:  # compiled extensions fail in many ways (OSError, RuntimeError, ...)
        warnings.warn(f"mamba_ssm is installed but does not import ({err!r}); Mamba2 uses its PyTorch scan")
        return None
    return mamba_split_conv1d_scan_combined


@torch.no_grad()
def init_ssm_parameters(
    dt_bias: nn.Parameter, A_log: nn.Parameter, D: nn.Parameter,
    dt_min: float = 1e-3, dt_max: float = 1e-1, dt_floor: float = 1e-4,
) -> None:
    """mamba-ssm's init: softplus(dt_bias) log-uniform in [dt_min, dt_max], A uniform in [1, 16], D = 1;
    marks the three ``_no_weight_decay`` (mamba-ssm's convention, read by the training loop)."""
    dt = torch.exp(torch.rand(dt_bias.shape) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min))
    dt = dt.clamp(min=dt_floor)
    dt_bias.copy_(dt + torch.log(-torch.expm1(-dt)))  # inverse of softplus
    A_log.copy_(torch.log(torch.empty(A_log.shape).uniform_(1.0, 16.0)))
    D.fill_(1.0)
    for p in (dt_bias, A_log, D):
        p._no_weight_decay = True


class Mamba2Weights(NamedTuple):
    """The parameters of ``n`` Mamba-2 layers of one shape, stacked on a leading axis, laid out
    for the PyTorch path (projections transposed for ``bmm``, the convolution channels last).

    One layer's weights are views of its parameters; several layers' (a bidirectional pair) are
    stacked copies, so that one batched product serves all of them.
    """

    in_proj: torch.Tensor  # (n, d_model, d_in_proj)
    conv_weight: torch.Tensor  # (n, d_conv, conv_dim)
    conv_bias: torch.Tensor  # (n, conv_dim)
    dt_bias: torch.Tensor  # (n, nheads)
    A: torch.Tensor  # (n, nheads), negative
    D: torch.Tensor  # (n, nheads)
    norm_weight: torch.Tensor  # (n, d_inner)
    out_proj: torch.Tensor  # (n, d_inner, d_model)

    @classmethod
    def of(cls, layers: "list[Mamba2]") -> "Mamba2Weights":
        def stack(get) -> torch.Tensor:
            return get(layers[0])[None] if len(layers) == 1 else torch.stack([get(layer) for layer in layers])

        return cls(
            stack(lambda m: m.in_proj.weight.t()),
            stack(lambda m: m.conv1d.weight[:, 0].t()),
            stack(lambda m: m.conv1d.bias),
            stack(lambda m: m.dt_bias),
            -torch.exp(stack(lambda m: m.A_log)),
            stack(lambda m: m.D),
            stack(lambda m: m.norm.weight),
            stack(lambda m: m.out_proj.weight.t()),
        )


def gated_rms_norm(
    y: torch.Tensor, z: torch.Tensor, weight: torch.Tensor, group_size: int, eps: float, overwrite: bool = False
) -> torch.Tensor:
    """``rmsnorm(y * silu(z)) * weight`` per group of ``group_size`` channels, in at least float32.

    ``overwrite``: ``y`` may be used as scratch space (when nothing needs gradients).
    """
    dtype = y.dtype
    y = y.to(torch.promote_types(dtype, torch.float32))
    inplace = overwrite and not (y.requires_grad or z.requires_grad or weight.requires_grad)
    gate = F.silu(z.to(y.dtype))
    gated = (y.mul_(gate) if inplace else y * gate).unflatten(-1, (-1, group_size))
    normed = F.rms_norm(gated, (group_size,), eps=eps).flatten(-2)
    return (normed.mul_(weight) if inplace else normed * weight).to(dtype)


class RMSNormGated(nn.Module):
    """``rmsnorm(y * silu(z)) * weight``, normalised per group (mamba-ssm, norm_before_gate=False)."""

    def __init__(self, dim: int, group_size: int, eps: float = 1e-5, device=None, dtype=None):
        super().__init__()
        self.group_size = group_size
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim, device=device, dtype=dtype))

    def forward(self, y: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return gated_rms_norm(y, z, self.weight, self.group_size, self.eps)


class Mamba2(nn.Module):
    """Mamba-2 mixer: ``(batch, length, d_model) -> (batch, length, d_model)``, causal, any length.

    ``use_kernel``: None picks the fused mamba-ssm kernel for CUDA inputs when it imports and no
    initial state is given; True demands it; False always uses the PyTorch scan.
    """

    def __init__(
        self,
        d_model: int,
        d_state: int = 64,
        d_conv: int = 4,
        expand: int = 2,
        headdim: int = 64,
        ngroups: int = 1,
        chunk_size: int = 64,
        layer_idx: int | None = None,
        device=None,
        dtype=None,
        use_kernel: bool | None = None,
    ):
        super().__init__()
        self.d_model = d_model
        self.d_state = d_state
        self.d_conv = d_conv
        self.d_inner = expand * d_model
        self.headdim = headdim
        self.ngroups = ngroups
        self.chunk_size = chunk_size
        self.layer_idx = layer_idx
        self.use_kernel = use_kernel
        if self.d_inner % headdim:
            raise ValueError(f"Mamba2: expand * d_model = {self.d_inner} is not a multiple of headdim {headdim}")
        self.nheads = self.d_inner // headdim
        if self.nheads % ngroups:
            raise ValueError(f"Mamba2: {self.nheads} heads cannot be split into ngroups={ngroups}")
        if d_conv < 1 or chunk_size < 1:
            raise ValueError(f"Mamba2: d_conv ({d_conv}) and chunk_size ({chunk_size}) must be positive")
        self.conv_dim = self.d_inner + 2 * ngroups * d_state
        factory = {"device": device, "dtype": dtype}

        # in_proj rows: [z | x | B | C | dt]
        self.in_proj = nn.Linear(d_model, self.d_inner + self.conv_dim + self.nheads, bias=False, **factory)
        self.conv1d = nn.Conv1d(
            self.conv_dim, self.conv_dim, d_conv, groups=self.conv_dim, padding=d_conv - 1, bias=True, **factory
        )
        self.dt_bias = nn.Parameter(torch.empty(self.nheads, **factory))
        self.A_log = nn.Parameter(torch.empty(self.nheads, **factory))
        self.D = nn.Parameter(torch.empty(self.nheads, **factory))
        self.norm = RMSNormGated(self.d_inner, self.d_inner // ngroups, eps=1e-5, **factory)
        self.out_proj = nn.Linear(self.d_inner, d_model, bias=False, **factory)
        self.reset_ssm_parameters()

    def reset_ssm_parameters(self, dt_min: float = 1e-3, dt_max: float = 1e-1, dt_floor: float = 1e-4) -> None:
        init_ssm_parameters(self.dt_bias, self.A_log, self.D, dt_min, dt_max, dt_floor)

    def forward(
        self,
        x: torch.Tensor,
        initial_state: Mamba2State | None = None,
        return_final_state: bool = False,
    ) -> torch.Tensor | tuple[torch.Tensor, Mamba2State]:
        """Mix ``x (batch, length, d_model)``; continue from ``initial_state`` if given.

        With ``return_final_state`` returns ``(y, Mamba2State)``, which continues the sequence
        exactly when passed as the next call's ``initial_state``.
        """
        if x.dim() != 3 or x.shape[-1] != self.d_model or x.shape[1] == 0:
            raise ValueError(f"Mamba2: expected input (batch, length >= 1, {self.d_model}), got {tuple(x.shape)}")
        if self._kernel_wanted(x, initial_state):
            return self._forward_kernel(self.in_proj(x), return_final_state)
        out, state = self.forward_directions(x, Mamba2Weights.of([self]), (False,), initial_state)
        return (out, state) if return_final_state else out

    def forward_directions(
        self,
        x: torch.Tensor,
        weights: Mamba2Weights,
        reverse: tuple[bool, ...],
        initial_state: Mamba2State | None = None,
    ) -> tuple[torch.Tensor, Mamba2State]:
        """Run ``n = len(reverse)`` layers of this layer's shape side by side on ``x (batch, length,
        d_model)``, layer ``i`` with ``weights[.][i]``, reading the sequence backwards where
        ``reverse[i]``; returns the sum of their outputs, each in the input's time order.

        The PyTorch path: one batched product per projection and one scan for all layers, over
        segments of a few chunks with the state carried between them (exact; faster on long CPU
        sequences than one pass, whose large intermediates miss the caches, and no
        sequence-long intermediate is kept). States fold the layers into the batch (``n *
        batch``, layer-major). Used by ``forward`` (one layer) and by bidirectional pairs.
        """
        length = x.shape[1]
        step = self.chunk_size * SEGMENT_CHUNKS
        state, out = initial_state, None
        for start in range(0, length, step):
            stop = min(start + step, length)
            parts = [x[:, length - stop : length - start].flip(1) if rev else x[:, start:stop] for rev in reverse]
            y, state = self._forward_torch(torch.stack(parts), weights, state)
            if stop - start == length and len(reverse) == 1:
                return y[0], state
            if out is None:
                out = x.new_zeros(x.shape)
            for rev, part in zip(reverse, y):
                if rev:
                    out[:, length - stop : length - start] += part.flip(1)
                else:
                    out[:, start:stop] += part
        return out, state

    def _forward_torch(
        self, xs: torch.Tensor, w: Mamba2Weights, initial_state: Mamba2State | None
    ) -> tuple[torch.Tensor, Mamba2State]:
        n, batch, length, _ = xs.shape
        zxbcdt = torch.bmm(xs.reshape(n, batch * length, self.d_model), w.in_proj).view(n, batch, length, -1)
        z, xBC, dt = zxbcdt.split([self.d_inner, self.conv_dim, self.nheads], dim=-1)
        xBC, conv_state = self._conv(xBC, w, None if initial_state is None else initial_state.conv)
        xs_, B, C = xBC.split([self.d_inner, self.ngroups * self.d_state, self.ngroups * self.d_state], dim=-1)
        heads = (n * batch, length, self.nheads, self.headdim)
        xs_ = xs_.reshape(heads)
        y, ssm_state = ssd_scan(
            xs_,
            F.softplus(dt + w.dt_bias[:, None, None]).reshape(n * batch, length, self.nheads),
            w.A.repeat_interleave(batch, dim=0),
            B.reshape(n * batch, length, self.ngroups, self.d_state),
            C.reshape(n * batch, length, self.ngroups, self.d_state),
            self.chunk_size,
            None if initial_state is None else initial_state.ssm,
        )
        skip = w.D.repeat_interleave(batch, dim=0)[:, None, :, None]
        y = torch.addcmul(y, xs_, skip).view(n, batch, length, self.d_inner)
        y = gated_rms_norm(y.to(xs.dtype), z, w.norm_weight[:, None, None], self.d_inner // self.ngroups, self.norm.eps, True)
        out = torch.bmm(y.reshape(n, batch * length, self.d_inner), w.out_proj).view(n, batch, length, self.d_model)
        return out, Mamba2State(conv_state, ssm_state)

    def _conv(
        self, xBC: torch.Tensor, w: Mamba2Weights, conv_state: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Causal depthwise conv + SiLU over ``(n, batch, length, conv_dim)``, primed by ``conv_state``.

        Channels last, as ``d_conv`` shifted multiply-adds: on CPU several times faster than a
        grouped ``conv1d`` (and no transposes).
        """
        n, batch, length, _ = xBC.shape
        if conv_state is None:
            padded = F.pad(xBC, (0, 0, self.d_conv - 1, 0))
        else:
            prev = conv_state.to(xBC.dtype).view(n, batch, self.conv_dim, self.d_conv - 1).transpose(-1, -2)
            padded = torch.cat([prev, xBC], dim=2)
        taps = w.conv_weight[:, :, None, None, :]  # (n, d_conv, 1, 1, conv_dim)
        out = torch.addcmul(w.conv_bias[:, None, None], padded[:, :, :length], taps[:, 0])
        for k in range(1, self.d_conv):
            out.addcmul_(padded[:, :, k : k + length], taps[:, k])
        new_state = padded[:, :, padded.shape[2] - (self.d_conv - 1) :].transpose(-1, -2)
        return F.silu(out, inplace=not out.requires_grad), new_state.reshape(n * batch, self.conv_dim, self.d_conv - 1)

    def _kernel_wanted(self, x: torch.Tensor, initial_state: Mamba2State | None) -> bool:
        if self.use_kernel is False:
            return False
        usable = x.device.type == "cuda" and initial_state is None and fused_kernel() is not None
        if self.use_kernel and not usable:
            raise RuntimeError(
                "Mamba2(use_kernel=True): the fused mamba-ssm kernel needs a CUDA input, an importable "
                "mamba_ssm and no initial_state; set use_kernel=None or False to use the PyTorch scan"
            )
        return usable

    def _forward_kernel(self, zxbcdt: torch.Tensor, return_final_state: bool):
        result = fused_kernel()(
            zxbcdt,
            self.conv1d.weight.squeeze(1),
            self.conv1d.bias,
            self.dt_bias,
            -torch.exp(self.A_log.float()),
            self.D,
            self.chunk_size,
            return_final_states=return_final_state,
            activation="silu",
            rmsnorm_weight=self.norm.weight,
            rmsnorm_eps=self.norm.eps,
            outproj_weight=self.out_proj.weight,
            outproj_bias=None,
            headdim=self.headdim,
            ngroups=self.ngroups,
            norm_before_gate=False,
        )
        if not return_final_state:
            return result
        out, ssm_state = result
        xBC = zxbcdt[..., self.d_inner : self.d_inner + self.conv_dim].transpose(1, 2)
        xBC = F.pad(xBC, (max(0, self.d_conv - 1 - xBC.shape[-1]), 0))
        conv_state = xBC[..., xBC.shape[-1] - (self.d_conv - 1) :]
        return out, Mamba2State(conv_state, ssm_state)
