"""Zero-phase smoothing of generated pose features, to bring the sampler's jerk down to real motion's.

Why: a few-step diffusion sampler leaves frame-to-frame noise that doubles the jerk of the
motion while hardly changing its shape. A Savitzky–Golay filter (a sliding least-squares cubic)
removes that noise but keeps the timing of speed peaks and minima — it is zero-phase and
preserves polynomial motion up to its order — so beats stay on the speech's onsets. It runs on
the feature sequence (6D rotations, root velocities) before decoding, where every channel is
a smooth function of time.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import savgol_filter

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
    return savgol_filter(features, window, POLYORDER, axis=0, mode="interp")
