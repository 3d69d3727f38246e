"""Bidirectional Mamba-2 mixer whose two scan directions share one in-projection, one convolution
and one out-projection (Hydra-like; the ``shared`` bidirectional layout).

Why: the ``separate`` layout (two whole Mamba-2 layers) projects every frame twice into and out
of a 2x-wide inner space; on a CPU those products alone cost about as much as a whole DiT block
at short lengths. Here the inner sequence ``x``, the gate ``z``, the convolution and the output
side are shared, while each direction keeps its own ``B``, ``C``, ``dt`` and ``A``: the forward
scan reads the sequence, the backward scan reads it flipped, and both run as one batched scan.
``y = scan_fwd + flip(scan_bwd(flip)) + D x``, then the gated RMSNorm and one out-projection.
The convolution is centred (``d_conv // 2`` frames back, the rest ahead): the mixer is not causal.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .mamba2 import SEGMENT_CHUNKS, RMSNormGated, gated_rms_norm, init_ssm_parameters
from .ssd import ssd_bidirectional_quadratic, ssd_scan

__all__ = ["SharedBidirectionalMamba2", "QUADRATIC_MAX", "WHOLE_MAX"]

QUADRATIC_MAX = 150  # frames up to which both scans run as one matrix form (ssd_bidirectional_quadratic; measured faster to ~150)
WHOLE_MAX = 400  # frames up to which, or with autograd, the sequence is mixed in one pass, not in segments


class SharedBidirectionalMamba2(nn.Module):
    """``(batch, length, d_model) -> (batch, length, d_model)``, every frame seeing the whole sequence.

    Parameters: ``in_proj`` rows ``[z | x | B fwd, B bwd | C fwd, C bwd | dt fwd, dt bwd]``;
    ``conv1d`` over ``[x | B | C]``; ``dt_bias`` and ``A_log`` per direction (forward heads
    first), ``D`` shared; ``norm`` and ``out_proj`` as in Mamba-2.
    """

    def __init__(
        self,
        d_model: int,
        d_state: int = 64,
        d_conv: int = 4,
        expand: int = 1,
        headdim: int = 64,
        ngroups: int = 1,
        chunk_size: int = 64,
        device=None,
        dtype=None,
    ):
        super().__init__()
        self.d_model, self.d_state, self.d_conv = d_model, d_state, d_conv
        self.d_inner = expand * d_model
        self.headdim, self.ngroups, self.chunk_size = headdim, ngroups, chunk_size
        if self.d_inner % headdim:
            raise ValueError(f"SharedBidirectionalMamba2: expand * d_model = {self.d_inner} is not a multiple of headdim {headdim}")
        self.nheads = self.d_inner // headdim
        if self.nheads % ngroups:
            raise ValueError(f"SharedBidirectionalMamba2: {self.nheads} heads cannot be split into ngroups={ngroups}")
        if d_conv < 1 or chunk_size < 1:
            raise ValueError(f"SharedBidirectionalMamba2: d_conv ({d_conv}) and chunk_size ({chunk_size}) must be positive")
        self.bc_dim = ngroups * d_state  # one direction's B (or C)
        self.conv_dim = self.d_inner + 4 * self.bc_dim
        self.pad = (d_conv // 2, d_conv - 1 - d_conv // 2)  # frames of context before, after
        factory = {"device": device, "dtype": dtype}
        self.in_proj = nn.Linear(d_model, self.d_inner + self.conv_dim + 2 * self.nheads, bias=False, **factory)
        self.conv1d = nn.Conv1d(self.conv_dim, self.conv_dim, d_conv, groups=self.conv_dim, padding=self.pad, bias=True, **factory)
        self.dt_bias = nn.Parameter(torch.empty(2 * self.nheads, **factory))
        self.A_log = nn.Parameter(torch.empty(2 * self.nheads, **factory))
        self.D = nn.Parameter(torch.empty(self.nheads, **factory))
        self.norm = RMSNormGated(self.d_inner, self.d_inner // ngroups, eps=1e-5, **factory)
        self.out_proj = nn.Linear(self.d_inner, d_model, bias=False, **factory)
        init_ssm_parameters(self.dt_bias, self.A_log, self.D)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 3 or x.shape[-1] != self.d_model or x.shape[1] == 0:
            raise ValueError(f"SharedBidirectionalMamba2: expected (batch, length >= 1, {self.d_model}), got {tuple(x.shape)}")
        batch, length, _ = x.shape
        grad = torch.is_grad_enabled() and (x.requires_grad or self.in_proj.weight.requires_grad)
        if length <= WHOLE_MAX or grad:
            projected = self._project(x, 0, length, None if grad else x.new_empty(batch, length, self.in_proj.out_features))
            if length <= QUADRATIC_MAX:
                return self._finish(self._quadratic(projected), projected)
            y = self._scan(projected, projected, lambda *a: ssd_scan(*a, self.chunk_size)[0]).unflatten(0, (2, -1))
            return self._finish(y[0] + y[1].flip(1) if grad else y[0].add_(y[1].flip(1)), projected)
        return self._segmented(x)

    def _segmented(self, x: torch.Tensor) -> torch.Tensor:
        """Without autograd, long sequences: project, scan and finish segment by segment.

        The projected sequence is stored once (the backward scan reaches a segment long after
        the forward one); the two scans run as one, segment ``k`` forward beside segment ``k``
        from the end backward, each carrying its state; no other sequence-long tensor is formed.
        """
        batch, length, _ = x.shape
        step = self.chunk_size * SEGMENT_CHUNKS
        projected = torch.empty(batch, length, self.in_proj.out_features, dtype=x.dtype, device=x.device)
        for start in range(0, length, step):
            stop = min(start + step, length)
            self._project(x, start, stop, projected[:, start:stop])
        y = x.new_zeros(batch, length, self.d_inner, dtype=torch.promote_types(x.dtype, torch.float32))
        state = None
        for start in range(0, length, step):
            stop = min(start + step, length)
            ahead, behind = projected[:, start:stop], projected[:, length - stop : length - start]
            y2, state = self._scan(ahead, behind, lambda *a: ssd_scan(*a, self.chunk_size, state))
            y2 = y2.view(2, batch, stop - start, self.d_inner)
            y[:, start:stop] += y2[0]
            y[:, length - stop : length - start] += y2[1].flip(1)
        out = x.new_empty(batch, length, self.d_model)
        for start in range(0, length, step):
            part = slice(start, start + step)
            out[:, part] = self._finish(y[:, part], projected[:, part])
        return out

    def _project(self, x: torch.Tensor, start: int, stop: int, out: torch.Tensor | None) -> torch.Tensor:
        """``[z | conv(x, B, C) | softplus(dt + dt_bias)]`` for frames ``start:stop`` of ``x``,
        written into ``out`` (without autograd: no concatenated copy) or concatenated.

        The in-projection also covers the convolution's context frames (zeros past either end).
        """
        length = x.shape[1]
        lo, hi = max(0, start - self.pad[0]), min(length, stop + self.pad[1])
        zxbcdt = F.linear(x[:, lo:hi], self.in_proj.weight)
        z, xBC, dt = zxbcdt.split([self.d_inner, self.conv_dim, 2 * self.nheads], dim=-1)
        xBC = F.pad(xBC, (0, 0, self.pad[0] - (start - lo), self.pad[1] - (hi - stop)))
        n = stop - start
        taps = self.conv1d.weight[:, 0].t()  # (d_conv, conv_dim): channels last, shifted multiply-adds
        i = self.d_inner
        conv = torch.addcmul(self.conv1d.bias, xBC[:, :n], taps[0], out=None if out is None else out[..., i : i + self.conv_dim])
        for k in range(1, self.d_conv):
            conv.addcmul_(xBC[:, k : k + n], taps[k])
        inner = slice(start - lo, start - lo + n)
        conv = F.silu(conv, inplace=out is not None)
        dt = F.softplus(dt[:, inner] + self.dt_bias)
        if out is None:
            return torch.cat([z[:, inner], conv, dt], dim=-1)
        out[..., :i] = z[:, inner]
        out[..., i + self.conv_dim :] = dt
        return out

    def _column_starts(self) -> tuple[int, int, int]:
        """Where ``B``, ``C`` and ``dt`` start among the projected columns
        ``[z | x | B f, B b | C f, C b | dt f, dt b]`` (``x`` starts at ``d_inner``)."""
        i = self.d_inner
        return 2 * i, 2 * i + 2 * self.bc_dim, 2 * i + 4 * self.bc_dim

    def _quadratic(self, projected: torch.Tensor) -> torch.Tensor:
        """Both directions' scans of the whole sequence, summed, in their matrix form (views of
        ``projected``, nothing flipped)."""
        H, G, N, i = self.nheads, self.ngroups, self.d_state, self.d_inner
        b0, c0, t0 = self._column_starts()

        def per_direction(lo: int, *shape: int) -> torch.Tensor:  # (batch, n, 2 * width) -> (2, batch, n, *shape)
            width = math.prod(shape)
            return projected[..., lo : lo + 2 * width].unflatten(-1, (2, *shape)).movedim(2, 0)

        return ssd_bidirectional_quadratic(
            projected[..., i : 2 * i].unflatten(-1, (H, self.headdim)),
            per_direction(t0, H),
            -torch.exp(self.A_log.view(2, H)),
            per_direction(b0, G, N),
            per_direction(c0, G, N),
        )

    def _scan(self, ahead: torch.Tensor, behind: torch.Tensor, scan):
        """One batched scan: the forward direction over ``ahead``, the backward one over ``behind``
        flipped (both slices of projected frames, equally long). Batch is direction-major."""
        batch, n, _ = ahead.shape
        H, P, G, N = self.nheads, self.headdim, self.ngroups, self.d_state
        i = self.d_inner
        b0, c0, t0 = self._column_starts()
        behind = behind.flip(1)

        def pair(lo_f: int, lo_b: int, width: int) -> torch.Tensor:
            return torch.stack([ahead[..., lo_f : lo_f + width], behind[..., lo_b : lo_b + width]]).flatten(0, 1)

        A = -torch.exp(self.A_log.view(2, 1, H)).expand(2, batch, H).reshape(2 * batch, H)
        return scan(
            pair(i, i, i).view(2 * batch, n, H, P),
            pair(t0, t0 + H, H),
            A,
            pair(b0, b0 + self.bc_dim, self.bc_dim).view(2 * batch, n, G, N),
            pair(c0, c0 + self.bc_dim, self.bc_dim).view(2 * batch, n, G, N),
        )

    def _finish(self, y: torch.Tensor, projected: torch.Tensor) -> torch.Tensor:
        """Add the skip ``D x``, gate and normalise with ``z``, project out (frames of ``projected``)."""
        batch, n = y.shape[:2]
        z, xs = projected[..., : self.d_inner], projected[..., self.d_inner : 2 * self.d_inner]
        skip = self.D.repeat_interleave(self.headdim)
        y = y.reshape(batch, n, self.d_inner)
        y = y.addcmul_(xs, skip.to(y.dtype)) if not y.requires_grad else torch.addcmul(y, xs, skip.to(y.dtype))
        y = gated_rms_norm(y.to(projected.dtype), z, self.norm.weight, self.d_inner // self.ngroups, self.norm.eps, True)
        return F.linear(y, self.out_proj.weight)
