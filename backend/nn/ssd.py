"""Chunked state-space-duality (SSD) scan of Mamba-2 in plain PyTorch.

Why: mamba-ssm's fused kernels need CUDA, so CPU (and any fallback) needs this scan. Within a
chunk the recurrence is computed as a masked, decayed "attention" (matrix products, fast on
CPU); between chunks the state is carried sequentially, so time and memory grow linearly with
length. Decays within a chunk come from differences of cumulative sums of ``dt * A``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["ssd_scan"]


def ssd_scan(
    x: torch.Tensor,
    dt: torch.Tensor,
    A: torch.Tensor,
    B: torch.Tensor,
    C: torch.Tensor,
    chunk_size: int,
    initial_state: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Run ``h_t = exp(dt_t A) h_{t-1} + dt_t x_t B_t^T``, ``y_t = h_t C_t`` over a sequence.

    Shapes: ``x (b, l, h, p)``, ``dt (b, l, h)`` (already positive), ``A (h,)`` (negative),
    ``B, C (b, l, g, n)`` with ``h % g == 0`` (heads share their group's B and C),
    ``initial_state (b, h, p, n)`` or None (zeros). Returns ``y (b, l, h, p)`` (no D skip)
    and the final state ``(b, h, p, n)``. Computed in at least float32.
    """
    batch, length, nheads, headdim = x.shape
    ngroups, dstate = B.shape[2], B.shape[3]
    if nheads % ngroups:
        raise ValueError(f"ssd_scan: {nheads} heads cannot be split into {ngroups} groups")
    dtype = torch.promote_types(x.dtype, torch.float32)
    x, dt, A, B, C = (t.to(dtype) for t in (x, dt, A, B, C))

    # Pad to whole chunks with dt = 0: padded steps neither decay nor feed the state.
    pad = (-length) % chunk_size
    if pad:
        x = F.pad(x, (0, 0, 0, 0, 0, pad))
        dt = F.pad(dt, (0, 0, 0, pad))
        B = F.pad(B, (0, 0, 0, 0, 0, pad))
        C = F.pad(C, (0, 0, 0, 0, 0, pad))
    nchunks = (length + pad) // chunk_size
    hg = nheads // ngroups
    # b=batch, c=chunk, l/s=position in chunk, g=group, k=head within group, p=headdim, n=state
    x = (x * dt[..., None]).reshape(batch, nchunks, chunk_size, ngroups, hg, headdim)
    B = B.reshape(batch, nchunks, chunk_size, ngroups, dstate)
    C = C.reshape(batch, nchunks, chunk_size, ngroups, dstate)
    dA = (dt * A).reshape(batch, nchunks, chunk_size, ngroups, hg)
    cs = torch.cumsum(dA, dim=2)  # (b, c, l, g, k): log-decay from the chunk start

    # 1. Within chunks: y_l = sum_{s<=l} (C_l . B_s) exp(cs_l - cs_s) dt_s x_s.
    cs_t = cs.permute(0, 1, 3, 4, 2)  # (b, c, g, k, l)
    diff = cs_t[..., :, None] - cs_t[..., None, :]
    causal = torch.ones(chunk_size, chunk_size, dtype=torch.bool, device=x.device).tril()
    decay = torch.exp(diff.masked_fill(~causal, float("-inf")))  # (b, c, g, k, l, s)
    scores = torch.einsum("bclgn,bcsgn->bcgls", C, B)[:, :, :, None] * decay
    y = torch.einsum("bcgkls,bcsgkp->bclgkp", scores, x)

    # 2. State each chunk adds by its end, starting from zero.
    to_end = torch.exp(cs[:, :, -1:] - cs)  # (b, c, l, g, k)
    chunk_states = torch.einsum("bclgn,bclgkp->bcgkpn", B, x * to_end[..., None])

    # 3. Carry states chunk to chunk: start[c] is the state entering chunk c.
    chunk_decay = torch.exp(cs[:, :, -1])  # (b, c, g, k)
    if initial_state is None:
        state = x.new_zeros(batch, ngroups, hg, headdim, dstate)
    else:
        state = initial_state.to(dtype).reshape(batch, ngroups, hg, headdim, dstate)
    starts = []
    for c in range(nchunks):
        starts.append(state)
        state = chunk_decay[:, c, :, :, None, None] * state + chunk_states[:, c]
    if nchunks:
        start = torch.stack(starts, dim=1)  # (b, c, g, k, p, n)
        # 4. Contribution of the entering state: y_l += exp(cs_l) C_l . start.
        y = y + torch.einsum("bclgn,bcgkpn->bclgkp", C, start) * torch.exp(cs)[..., None]

    y = y.reshape(batch, nchunks * chunk_size, nheads, headdim)[:, :length]
    return y, state.reshape(batch, nheads, headdim, dstate)
