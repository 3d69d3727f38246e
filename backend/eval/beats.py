"""Speech onsets, motion beats and the beat-alignment score (numpy/scipy only, no librosa).

Why: beat alignment is the standard check that gestures move *with* the speech. We use the
BeatAlign form of Li et al. (AIST++/Bailando) as also used for co-speech gestures by Liu et al.
(BEAT): motion beats are local minima of the mean joint speed, audio beats are onsets of a
spectral-flux envelope, and the score is the mean over motion beats of
``exp(-d² / (2σ²))`` where ``d`` is the distance (s) to the nearest audio onset.
σ defaults to ``BEAT_SIGMA`` = 0.1 s (two frames at 20 fps).
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter1d
from scipy.signal import find_peaks, stft

BEAT_SIGMA = 0.1  # seconds; tolerance of the alignment kernel


def onset_envelope(wave: np.ndarray, sample_rate: int, hop_seconds: float = 0.01) -> tuple[np.ndarray, float]:
    """Spectral flux of the log-magnitude STFT (half-wave rectified, summed over frequency).

    Returns ``(envelope, rate)``: one value per hop, ``rate`` in Hz; envelope[i] is the rise of
    spectral energy between frames ``i-1`` and ``i`` (envelope[0] = 0).
    """
    wave = np.asarray(wave, dtype=np.float64).reshape(-1)
    hop = max(1, int(round(hop_seconds * sample_rate)))
    n_fft = 4 * hop
    if wave.size < n_fft:
        return np.zeros(1), sample_rate / hop
    _, _, spec = stft(wave, fs=sample_rate, nperseg=n_fft, noverlap=n_fft - hop, boundary=None, padded=False)
    log_mag = np.log1p(100.0 * np.abs(spec))  # (freq, frames); compressive, level-robust
    flux = np.maximum(np.diff(log_mag, axis=1), 0.0).sum(axis=0)
    envelope = np.concatenate([[0.0], flux])
    return envelope, sample_rate / hop


def audio_onsets(
    wave: np.ndarray,
    sample_rate: int,
    min_gap: float = 0.1,
    threshold: float = 0.3,
) -> np.ndarray:
    """Onset times (s): peaks of the onset envelope above ``threshold`` × its 99th percentile,
    at least ``min_gap`` seconds apart. The envelope's frame ``i`` spans the window starting at
    ``i * hop``, so times are shifted by half a window to the window centre."""
    envelope, rate = onset_envelope(wave, sample_rate)
    scale = np.percentile(envelope, 99)
    if scale <= 0:
        return np.zeros(0)
    peaks, _ = find_peaks(envelope / scale, height=threshold, distance=max(1, int(min_gap * rate)))
    window_centre = 2.0 / rate  # n_fft = 4 hops; centre of the window = 2 hops after its start
    return peaks / rate + window_centre


def joint_speed(positions: np.ndarray, fps: float) -> np.ndarray:
    """Mean speed over joints, ``(T, J, 3)`` positions → ``(T-1,)`` speed at the midpoints (units/s)."""
    positions = np.asarray(positions, dtype=np.float64)
    if positions.ndim != 3 or positions.shape[-1] != 3:
        raise ValueError(f"positions must be (frames, joints, 3), got {positions.shape}")
    return np.linalg.norm(np.diff(positions, axis=0), axis=-1).mean(axis=1) * fps


def motion_beats(positions: np.ndarray, fps: float, smooth_frames: float = 1.0, min_prominence: float = 0.05) -> np.ndarray:
    """Motion beat times (s): local minima of the (Gaussian-smoothed) mean joint speed.

    Minima shallower than ``min_prominence`` × the speed's range are ignored, so that a still
    pose with numerical noise yields no beats. Speed sample ``i`` lies between frames ``i`` and
    ``i+1``, so its time is ``(i + 0.5) / fps``.
    """
    speed = joint_speed(positions, fps)
    if speed.size < 3:
        return np.zeros(0)
    if smooth_frames > 0:
        speed = gaussian_filter1d(speed, smooth_frames, mode="nearest")
    span = float(speed.max() - speed.min())
    if span <= 0:
        return np.zeros(0)
    minima, _ = find_peaks(-speed, prominence=min_prominence * span)
    return (minima + 0.5) / fps


def beat_alignment(motion_times: np.ndarray, audio_times: np.ndarray, sigma: float = BEAT_SIGMA) -> float:
    """BeatAlign: mean over motion beats of ``exp(-min_dist² / (2σ²))`` to the nearest audio onset.

    1 means every motion beat sits on an onset; NaN when either side has no beats (undefined).
    """
    motion_times = np.asarray(motion_times, dtype=np.float64).reshape(-1)
    audio_times = np.sort(np.asarray(audio_times, dtype=np.float64).reshape(-1))
    if motion_times.size == 0 or audio_times.size == 0:
        return float("nan")
    if sigma <= 0:
        raise ValueError(f"sigma must be positive, got {sigma}")
    nearest = _nearest_distance(motion_times, audio_times)
    return float(np.mean(np.exp(-(nearest**2) / (2.0 * sigma**2))))


def _nearest_distance(queries: np.ndarray, sorted_refs: np.ndarray) -> np.ndarray:
    """Distance from each query to the nearest of ``sorted_refs`` (non-empty, ascending)."""
    idx = np.searchsorted(sorted_refs, queries)
    left = sorted_refs[np.clip(idx - 1, 0, sorted_refs.size - 1)]
    right = sorted_refs[np.clip(idx, 0, sorted_refs.size - 1)]
    return np.minimum(np.abs(queries - left), np.abs(queries - right))
