"""Chunked state-space-duality (SSD) scan of Mamba-2 in plain PyTorch.

Why: mamba-ssm's fused kernels need CUDA, so CPU (and any fallback) needs this scan. Within a
chunk the recurrence is computed as a masked, decayed "attention" (matrix products, fast on
CPU); between chunks the state is carried sequentially, so time and memory grow linearly with
length. Decays come from cumulative sums ``cs`` of ``dt * A`` within each chunk.

Laid out for CPU, where many small element-wise passes cost more than the matrix products:
- chunks are evened out over the length (200 frames with chunk 64 run as 4 chunks of 50, not
  256 padded frames);
- the decay ``exp(cs_l - cs_s)`` between two steps of a chunk factors into
  ``exp(cs_l - cs_end) * exp(cs_end - cs_s)``, so no (heads, l, s) decay matrix is formed: the
  within-chunk output, the state a chunk adds and the entering state's contribution become three
  matrix products per group (its heads side by side) and one scaling. The first factor grows as
  ``exp(range)``, the chunk's total log-decay, so this is used while every chunk's range stays
  below ``FACTORED_RANGE`` (overflow-safe with room to spare); otherwise each head's decay
  matrix is formed (the exact form; slower, needed for very fast-decaying heads only);
- without autograd the large intermediates are updated in place.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["ssd_scan", "ssd_bidirectional_quadratic", "FACTORED_RANGE", "DECAY_FLOOR"]

# Largest chunk log-decay range for the factored form, per computation dtype: exp(60) ~ 1e26
# leaves float32 twelve orders of magnitude above any product of this layer's values.
FACTORED_RANGE = {torch.float32: 60.0, torch.float64: 600.0}

# Floor of the log-decays ssd_bidirectional_quadratic exponentiates: exp(-60) ~ 1e-26 is far below float32's
# resolution of any sum it joins, and the floor keeps the decays and their products out of
# subnormal floats, which x86 CPUs handle many times slower.
DECAY_FLOOR = 60.0


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

    Shapes: ``x (b, l, h, p)``, ``dt (b, l, h)`` (already positive), ``A (h,)`` or ``(b, h)``
    (negative; per sequence when several layers run side by side in the batch), ``B, C (b, l,
    g, n)`` with ``h % g == 0`` (heads share their group's B and C), ``initial_state (b, h, p,
    n)`` or None (zeros). Returns ``y (b, l, h, p)`` (no D skip) and the final state ``(b, h, p,
    n)``. Computed in at least float32. ``chunk_size`` is the longest chunk; the chunks
    actually used are as even as the length allows.
    """
    batch, length, nheads, headdim = x.shape
    ngroups, dstate = B.shape[2], B.shape[3]
    if nheads % ngroups:
        raise ValueError(f"ssd_scan: {nheads} heads cannot be split into {ngroups} groups")
    dtype = torch.promote_types(x.dtype, torch.float32)
    inplace = not (torch.is_grad_enabled() and any(t.requires_grad for t in (x, dt, A, B, C, initial_state) if t is not None))
    nchunks = -(-length // chunk_size)
    Q = -(-length // nchunks)  # chunk length, <= chunk_size
    pad = nchunks * Q - length  # < nchunks steps, with dt = 0: they neither decay nor feed the state
    hg = nheads // ngroups
    x, dt, B, C = (t.to(dtype) for t in (x, dt, B, C))
    A = A.to(dtype).reshape(-1 if A.dim() == 2 else 1, 1, nheads)
    # b=batch, c=chunk, l/s=position in chunk, g=group, k=head within group, p=headdim, n=state
    dA = dt * A
    if pad:  # x only needs zeros there (dt is 0), but a view of whole chunks needs them stored
        x = F.pad(x, (0, 0, 0, 0, 0, pad))
        dt, dA = F.pad(dt, (0, 0, 0, pad)), F.pad(dA, (0, 0, 0, pad))
        B, C = F.pad(B, (0, 0, 0, 0, 0, pad)), F.pad(C, (0, 0, 0, 0, 0, pad))
    dt = dt.view(batch, nchunks, Q, nheads)
    x = x.reshape(batch, nchunks, Q, nheads, headdim)
    Bg = B.view(batch, nchunks, Q, ngroups, dstate).transpose(2, 3)  # (b, c, g, l, n)
    Cg = C.view(batch, nchunks, Q, ngroups, dstate).transpose(2, 3)
    cs = torch.cumsum(dA.view(batch, nchunks, Q, nheads), dim=2)  # (b, c, l, h)
    cs_end = cs[:, :, -1:]  # (b, c, 1, h)

    def per_group(t: torch.Tensor) -> torch.Tensor:  # (b, c, l, h, p) -> (b, c, g, l, k*p)
        return t.reshape(batch, nchunks, Q, ngroups, hg * headdim).transpose(2, 3)

    def head_scale(t: torch.Tensor) -> torch.Tensor:  # (b, c, l, h) -> (b, c, l, h, 1), broadcast over p
        return t[..., None]

    # The state each chunk adds by its end, starting from zero: B^T (dt x exp(cs_end - cs_s)).
    to_end = torch.exp(cs_end - cs)  # <= 1
    weighted = x * head_scale(dt * to_end)  # dt_s x_s exp(cs_end - cs_s)
    chunk_states = torch.matmul(Bg.transpose(-1, -2), per_group(weighted))  # (b, c, g, n, k*p)
    scores = torch.matmul(Cg, Bg.transpose(-1, -2))  # (b, c, g, l, s): C_l . B_s
    scores = scores.tril_() if inplace else scores.tril()

    # Carry states chunk to chunk, (b, g, n, k, p): starts[c] is the state entering chunk c.
    chunk_decay = torch.exp(cs_end[:, :, 0]).view(batch, nchunks, ngroups, 1, hg, 1)
    chunk_states = chunk_states.view(batch, nchunks, ngroups, dstate, hg, headdim)
    if initial_state is None:
        state = x.new_zeros(batch, ngroups, dstate, hg, headdim, dtype=dtype)
    else:  # (b, h, p, n) -> (b, g, n, k, p)
        state = initial_state.to(dtype).view(batch, ngroups, hg, headdim, dstate).permute(0, 1, 4, 2, 3)
    starts = []
    for c in range(nchunks):
        starts.append(state)
        state = torch.addcmul(chunk_states[:, c], state, chunk_decay[:, c])
    starts = torch.stack(starts, dim=1)  # (b, c, g, n, k, p)
    final = state.permute(0, 1, 3, 4, 2).reshape(batch, nheads, headdim, dstate)

    # y_l = exp(cs_l - cs_end) [sum_{s<=l} C_l.B_s weighted_s + C_l . entering]; entering is the
    # state entering the chunk decayed to its end. exp(cs_l - cs_end) is capped so that it stays
    # finite: the (batch, chunk, head)s it would overflow are recomputed exactly below.
    limit = FACTORED_RANGE.get(dtype, FACTORED_RANGE[torch.float32])
    entering = (starts * chunk_decay).view(batch, nchunks, ngroups, dstate, hg * headdim)
    y = torch.baddbmm(
        torch.matmul(Cg, entering).flatten(0, 2), scores.flatten(0, 2), per_group(weighted).flatten(0, 2)
    ).view(batch, nchunks, ngroups, Q, hg, headdim)
    from_end = head_scale(torch.exp((cs - cs_end).clamp_max(limit))).view(batch, nchunks, Q, ngroups, hg, 1)
    y = y.transpose(2, 3)  # (b, c, l, g, k, p)
    y = y.mul_(from_end) if inplace else y * from_end
    bi, ci, hi = torch.nonzero((cs[:, :, 0] - cs_end[:, :, 0]).detach() > limit, as_tuple=True)
    if len(bi):
        # Exact form for fast-decaying heads: the head's decay matrix exp(cs_l - cs_s), masked to
        # s <= l by the scores, plus the entering state decayed to each step, exp(cs_l) C_l . start.
        gi, ki = hi // hg, hi % hg
        cs_h = cs[bi, ci, :, hi]  # (m, l)
        decay = (cs_h[:, :, None] - cs_h[:, None, :]).clamp_max(0.0).exp() * scores[bi, ci, gi]
        x_h = x[bi, ci, :, hi] * dt[bi, ci, :, hi, None]  # (m, s, p): dt_s x_s
        start_h = starts[bi, ci, gi, :, ki]  # (m, n, p)
        exact = torch.baddbmm(torch.bmm(Cg[bi, ci, gi], start_h) * cs_h.exp()[..., None], decay, x_h)
        steps = torch.arange(Q, device=y.device)[None]
        y = y.index_put((bi[:, None], ci[:, None], steps, gi[:, None], ki[:, None]), exact)
    y = y.reshape(batch, nchunks * Q, nheads, headdim)[:, :length]
    return y, final


def ssd_bidirectional_quadratic(
    x: torch.Tensor, dt: torch.Tensor, A: torch.Tensor, B: torch.Tensor, C: torch.Tensor
) -> torch.Tensor:
    """A forward and a backward scan over the same ``x`` from zero states, summed, as one masked,
    decayed "attention": ``y_l = sum_{s <= l} exp(F_l - F_s) (Cf_l . Bf_s) dtf_s x_s
    + sum_{s >= l} exp(R_l - R_s) (Cb_l . Bb_s) dtb_s x_s``, with ``F`` the forward cumulative sum of
    ``dt A`` and ``R`` the backward one (from the end). No final state, no ``D`` skip.

    Shapes: ``x (b, l, h, p)``; per direction (forward first) ``dt (2, b, l, h)`` (positive),
    ``A (2, h)`` (negative), ``B, C (2, b, l, g, n)``, all in the frames' own order (the backward
    direction is not flipped). Returns ``(b, l, h, p)``.

    Why: for a few hundred frames on a CPU, a handful of large products beats the chunk-by-chunk
    scan, which is a dozen small kernels per direction. Each direction fills only one triangle of
    its decay matrix, so the two share one ``(l, l)`` matrix per head and one product with ``x``.
    The work grows with length squared: for short sequences only. Decays below
    ``exp(-DECAY_FLOOR)`` are raised to it (a change far below float32's resolution of the sums
    they join).
    """
    batch, length, nheads, headdim = x.shape
    ngroups = B.shape[-2]
    if nheads % ngroups:
        raise ValueError(f"ssd_bidirectional_quadratic: {nheads} heads cannot be split into {ngroups} groups")
    dtype = torch.promote_types(x.dtype, torch.float32)
    x, dt, A, B, C = (t.to(dtype) for t in (x, dt, A, B, C))
    inplace = not (torch.is_grad_enabled() and any(t.requires_grad for t in (x, dt, A, B, C)))
    dA = dt * A[:, None, None, :]  # (2, b, l, h)
    forward = torch.cumsum(dA[0], dim=1).transpose(1, 2)  # (b, h, l), falling
    backward = torch.cumsum(dA[1].flip(1), dim=1).flip(1).transpose(1, 2)  # (b, h, l): sum over u >= l, rising
    # C_l . B_s per group, each direction masked to its own triangle (the diagonal is in both)
    scores = torch.matmul(C.transpose(2, 3), B.permute(0, 1, 3, 4, 2))  # (2, b, g, l, s)
    forward_scores = scores[0].tril_() if inplace else scores[0].tril()
    backward_scores = scores[1].triu_() if inplace else scores[1].triu()
    step_dt = dt.permute(0, 1, 3, 2)[:, :, :, None, :]  # (2, b, h, 1, s): dt_s

    def decayed(cumulative: torch.Tensor, masked_scores: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        """exp(cum_l - cum_s), capped at 1 where the mask zeroes it anyway, times scores and dt_s: (b, h, l, s)."""
        diff = cumulative[:, :, :, None] - cumulative[:, :, None, :]
        decay = diff.clamp_(-DECAY_FLOOR, 0.0).exp_() if inplace else diff.clamp(-DECAY_FLOOR, 0.0).exp()
        decay = decay.view(batch, ngroups, nheads // ngroups, length, length)
        mixed = decay.mul_(masked_scores[:, :, None]) if inplace else decay * masked_scores[:, :, None]
        mixed = mixed.view(batch, nheads, length, length)
        return mixed.mul_(weight) if inplace else mixed * weight

    # F_l - F_s <= 0 below the diagonal, R_l - R_s <= 0 above it: each direction's own triangle
    mix = decayed(forward, forward_scores, step_dt[0])
    reverse = decayed(backward, backward_scores, step_dt[1])
    mix = mix.add_(reverse) if inplace else mix + reverse
    return torch.matmul(mix, x.transpose(1, 2)).transpose(1, 2)
