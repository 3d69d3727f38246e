"""Zero-phase smoothing of generated pose features, to bring the sampler's jerk down to real motion's.

Why: a few-step diffusion sampler leaves frame-to-frame noise that doubles the jerk of the
motion while hardly changing its shape. A Savitzky–Golay filter (a sliding least-squares cubic)
removes that noise but keeps the timing of speed peaks and minima — it is zero-phase and
preserves polynomial motion up to its order — so beats stay on the speech's onsets. It runs on
the feature sequence (6D rotations, root velocities) before decoding, where every channel is
a smooth function of time.

The filter is written out in numpy (a few lines, equal to ``scipy.signal.savgol_filter(...,
mode="interp")`` in a test) because importing ``scipy.signal`` costs ~0.6 s at every start of
the generation path.
"""

from __future__ import annotations

import numpy as np

POLYORDER = 3


def smooth_features(features: np.ndarray, fps: float, seconds: float) -> np.ndarray:
    """``features`` (T, F) smoothed along time by a cubic Savitzky–Golay window of ``seconds``.

    ``seconds`` <= 0, or a window shorter than 5 frames, returns the input unchanged; the window
    is shortened (to an odd length) for clips shorter than it.
    """
    features = np.asarray(features, dtype=np.float64)
    window = int(round(seconds * fps)) | 1  # odd
    window = min(window, len(features) if len(features) % 2 else len(features) - 1)
    if seconds <= 0 or window < POLYORDER + 2:
        return features
    return savgol(features, window, POLYORDER)


def savgol(x: np.ndarray, window: int, order: int) -> np.ndarray:
    """Savitzky–Golay smoothing of ``x`` (T, F) along time (odd ``window`` <= T): the centre value of a
    least-squares polynomial of ``order`` in every window; the first and last ``window // 2`` frames take the
    values of the polynomial fitted to the first and last window (scipy's ``mode="interp"``)."""
    half = window // 2
    vander = np.vander(np.arange(-half, half + 1, dtype=np.float64), order + 1, increasing=True)  # (w, order+1)
    fit = np.linalg.pinv(vander)  # window values -> polynomial coefficients
    out = np.empty_like(x)
    windows = np.lib.stride_tricks.sliding_window_view(x, window, axis=0)  # (T - w + 1, F, w)
    out[half:len(x) - half] = windows @ fit[0]
    out[:half] = vander[:half] @ (fit @ x[:window])
    out[len(x) - half:] = vander[half + 1:] @ (fit @ x[-window:])
    return out
