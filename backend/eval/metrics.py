"""Motion-quality metrics on plain numpy arrays: Fréchet distance, diversity, jerk, stroke timing.

Why numpy and not torch: these are small statistics computed once per evaluation; keeping
them free of the model makes them testable on constructed cases with known answers.
Positions are ``(T, J, 3)`` joint positions (cm) at ``fps``; feature sets are ``(N, D)``.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy.ndimage import gaussian_filter1d
from scipy.signal import find_peaks

from .beats import joint_speed


def gaussian_stats(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance (float64) of ``(N, D)`` samples, N ≥ 2."""
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2 or features.shape[0] < 2:
        raise ValueError(f"need (N >= 2, D) samples for a covariance, got shape {features.shape}")
    return features.mean(axis=0), np.atleast_2d(np.cov(features, rowvar=False))


def frechet_distance_from_stats(mu1, sigma1, mu2, sigma2) -> float:
    """Fréchet distance between two Gaussians: ``|μ1-μ2|² + tr(Σ1 + Σ2 - 2 (Σ1 Σ2)^½)``.

    ``tr((Σ1 Σ2)^½)`` is computed as ``Σ sqrt(eig(Σ1^½ Σ2 Σ1^½))`` with symmetric eigensolvers:
    equal in exact arithmetic to the usual ``scipy.linalg.sqrtm(Σ1 @ Σ2)``, but real and stable
    when the covariances are singular (fewer samples than dimensions), where ``sqrtm`` of the
    non-symmetric product returns complex noise.
    """
    mu1, mu2 = np.asarray(mu1, dtype=np.float64), np.asarray(mu2, dtype=np.float64)
    sigma1, sigma2 = np.atleast_2d(sigma1).astype(np.float64), np.atleast_2d(sigma2).astype(np.float64)
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape or sigma1.shape != (mu1.size, mu1.size):
        raise ValueError(f"mismatched statistics: {mu1.shape}, {sigma1.shape} vs {mu2.shape}, {sigma2.shape}")
    root1 = _psd_sqrt(sigma1)
    middle = root1 @ sigma2 @ root1
    eig = np.linalg.eigvalsh((middle + middle.T) / 2.0)
    trace_cross = np.sqrt(np.clip(eig, 0.0, None)).sum()
    diff = mu1 - mu2
    value = diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * trace_cross
    return float(max(value, 0.0))  # clip round-off below zero (identical sets)


def frechet_distance(features_a: np.ndarray, features_b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two ``(N, D)`` sample sets."""
    return frechet_distance_from_stats(*gaussian_stats(features_a), *gaussian_stats(features_b))


def _psd_sqrt(matrix: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2.0)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def root_relative_positions(positions: np.ndarray) -> np.ndarray:
    """``(T, J, 3)`` → ``(T, 3J)`` joint positions relative to joint 0 (the root), one row per frame."""
    positions = np.asarray(positions, dtype=np.float64)
    return (positions - positions[:, :1]).reshape(positions.shape[0], -1)


def mean_pairwise_l1(samples: Sequence[np.ndarray]) -> float:
    """Mean absolute difference over all pairs of samples (cropped to the shortest); 0 for < 2 samples."""
    if len(samples) < 2:
        return 0.0
    length = min(len(s) for s in samples)
    stack = np.stack([np.asarray(s, dtype=np.float64)[:length] for s in samples])
    total, pairs = 0.0, 0
    for i in range(len(stack) - 1):
        total += np.abs(stack[i + 1 :] - stack[i]).mean(axis=tuple(range(1, stack.ndim))).sum()
        pairs += len(stack) - 1 - i
    return float(total / pairs)


def diversity(groups: Sequence[Sequence[np.ndarray]]) -> dict[str, float]:
    """Diversity of generated motion, as mean L1 distances.

    ``groups[i]`` holds the samples generated for audio ``i`` (e.g. different seeds).
    ``within``: mean over audios of the pairwise L1 between that audio's samples (how much the
    model varies for the same speech); ``across``: pairwise L1 between the first sample of each
    audio (how much motion differs between speeches). Identical samples give 0.
    """
    within = [mean_pairwise_l1(g) for g in groups if len(g) >= 2]
    firsts = [g[0] for g in groups if len(g) >= 1]
    return {
        "within": float(np.mean(within)) if within else float("nan"),
        "across": mean_pairwise_l1(firsts) if len(firsts) >= 2 else float("nan"),
    }


def kinematic_stats(positions: np.ndarray, fps: float) -> dict[str, float]:
    """Mean and 95th percentile of |acceleration| and |jerk| of joint positions (units/s², /s³).

    Finite differences of order 2 and 3 over all joints and frames; exact for polynomials of
    that degree.
    """
    positions = np.asarray(positions, dtype=np.float64)
    if positions.ndim != 3 or positions.shape[0] < 4:
        raise ValueError(f"need (frames >= 4, joints, 3) positions, got shape {positions.shape}")
    acc = np.linalg.norm(np.diff(positions, n=2, axis=0), axis=-1) * fps**2
    jerk = np.linalg.norm(np.diff(positions, n=3, axis=0), axis=-1) * fps**3
    return {
        "acc_mean": float(acc.mean()),
        "acc_p95": float(np.percentile(acc, 95)),
        "jerk_mean": float(jerk.mean()),
        "jerk_p95": float(np.percentile(jerk, 95)),
    }


def speed_peaks(
    positions: np.ndarray,
    fps: float,
    joints: Sequence[int],
    smooth_frames: float = 1.0,
    min_prominence: float = 0.2,
    min_gap: float = 0.2,
) -> np.ndarray:
    """Times (s) of speed peaks of the given joints (e.g. the wrists): candidate gesture strokes.

    Per joint, peaks of the smoothed speed whose prominence exceeds ``min_prominence`` × that
    joint's speed range; peaks of different joints closer than ``min_gap`` merge into one.
    """
    positions = np.asarray(positions, dtype=np.float64)
    times = []
    for j in joints:
        speed = joint_speed(positions[:, [j]], fps)
        if smooth_frames > 0 and speed.size:
            speed = gaussian_filter1d(speed, smooth_frames, mode="nearest")
        span = float(speed.max() - speed.min()) if speed.size else 0.0
        if span <= 0:
            continue
        peaks, _ = find_peaks(speed, prominence=min_prominence * span)
        times.extend((peaks + 0.5) / fps)
    merged: list[float] = []
    for t in sorted(times):
        if merged and t - merged[-1] < min_gap:
            continue
        merged.append(t)
    return np.asarray(merged)


def match_events(detected: np.ndarray, truth: np.ndarray, tolerance: float) -> dict[str, float]:
    """One-to-one matching of detected to ground-truth event times within ``tolerance`` seconds.

    Greedy by distance (closest pairs first). Returns precision, recall, F1, the mean absolute
    timing error of the matched pairs (s) and the counts.
    """
    detected = np.asarray(detected, dtype=np.float64).reshape(-1)
    truth = np.asarray(truth, dtype=np.float64).reshape(-1)
    dist = np.abs(detected[:, None] - truth[None, :])
    candidates = np.argwhere(dist <= tolerance)
    order = np.argsort(dist[candidates[:, 0], candidates[:, 1]], kind="stable") if len(candidates) else []
    used_d, used_t, errors = set(), set(), []
    for k in order:
        i, j = candidates[k]
        if i in used_d or j in used_t:
            continue
        used_d.add(i)
        used_t.add(j)
        errors.append(dist[i, j])
    matched = len(errors)
    precision = matched / detected.size if detected.size else float("nan")
    recall = matched / truth.size if truth.size else float("nan")
    f1 = 2 * precision * recall / (precision + recall) if matched else 0.0
    return {
        "precision": float(precision),
        "recall": float(recall),
        "f1": float(f1),
        "mean_abs_error": float(np.mean(errors)) if errors else float("nan"),
        "matched": matched,
        "detected": int(detected.size),
        "truth": int(truth.size),
    }
