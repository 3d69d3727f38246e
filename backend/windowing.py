"""Long clips in passes: overlapping frame spans and their linear cross-fade.

Why apart from the sampler: memory grows with the frames of one pass, so a long clip is cut into
passes of ``pass_seconds``; which frames a pass covers and how neighbouring passes blend is
bookkeeping on frame indices, the same whatever sampler or model produced each pass.
"""

from __future__ import annotations

import numpy as np

__all__ = ["MAX_PASS_SECONDS", "pass_spans", "window_spans", "blend_weights", "cross_fade"]

MAX_PASS_SECONDS = 120.0  # longer clips are generated in passes of this length: memory stays bounded


def pass_spans(total: int, fps: float, pass_seconds: float | None = None, overlap_seconds: float | None = None) -> list[tuple[int, int]]:
    """The frame spans of the passes for a clip of ``total`` frames at ``fps``.

    Without ``pass_seconds`` one pass up to ``MAX_PASS_SECONDS``, longer clips in passes of that length;
    passes overlap by ``overlap_seconds`` (default a quarter pass).
    """
    if pass_seconds is None and total > MAX_PASS_SECONDS * fps:
        pass_seconds = MAX_PASS_SECONDS
    if pass_seconds is None:
        return [(0, total)]
    window = max(2, round(pass_seconds * fps))
    overlap_s = pass_seconds / 4 if overlap_seconds is None else overlap_seconds
    overlap = min(max(1, round(overlap_s * fps)), window - 1)
    return window_spans(total, window, overlap)


def window_spans(total: int, window: int, overlap: int) -> list[tuple[int, int]]:
    """Frame spans ``[start, stop)`` of at most ``window`` frames covering ``total``, overlapping
    by at least ``overlap``; the last one ends exactly at ``total``."""
    if total <= window:
        return [(0, total)]
    hop = window - overlap
    starts = list(range(0, total - window, hop)) + [total - window]
    return [(s, s + window) for s in starts]


def blend_weights(spans: list[tuple[int, int]], index: int) -> np.ndarray:
    """Linear cross-fade weights for window ``index``: ramps over its overlaps with neighbours,
    complementary to theirs, so overlapping windows sum to one."""
    start, stop = spans[index]
    w = np.ones(stop - start)
    if index > 0:
        ov = spans[index - 1][1] - start
        w[:ov] = np.minimum(w[:ov], np.arange(1, ov + 1) / (ov + 1))
    if index < len(spans) - 1:
        ov = stop - spans[index + 1][0]
        w[-ov:] = np.minimum(w[-ov:], np.arange(ov, 0, -1) / (ov + 1))
    return w


def cross_fade(spans: list[tuple[int, int]], pieces: list[np.ndarray]) -> np.ndarray:
    """One (T, F) sequence from the passes' (stop - start, F) pieces, blended where they overlap."""
    total = spans[-1][1]
    out = np.zeros((total, pieces[0].shape[1]), dtype=np.float64)
    weight_sum = np.zeros((total, 1), dtype=np.float64)
    for index, ((start, stop), piece) in enumerate(zip(spans, pieces)):
        weights = blend_weights(spans, index)[:, None]
        out[start:stop] += weights * piece
        weight_sum[start:stop] += weights
    return out / weight_sum
