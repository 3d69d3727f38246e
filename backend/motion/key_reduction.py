"""Fewer keys for hand editing: keep each channel's extrema and the frames needed to stay within a tolerance.

Generated motion has a key on every frame, which nobody can edit by hand. This picks, per
bone, one set of frames shared by its channels (all four quaternion components keyed on the
same frames, so the quaternion stays continuous between keys) that holds the first and last
frame (the clip stays in sync with its sound), every extremum of every channel that swings by
more than the tolerance (the poses an animator grabs; smaller wiggles are not worth a key), and then, Ramer-Douglas-Peucker style, the frame of largest error until every
original frame is reproduced within the tolerance by the curve Blender evaluates between the
kept keys: linear per channel, then normalised (a quaternion's angle error) or linear (a
location's distance error). Numpy only, no bpy.
"""

from __future__ import annotations

import numpy as np

from . import quaternions as quat


def extrema(values: np.ndarray, swing: float = 0.0) -> np.ndarray:
    """Boolean (T,) mask of frames where any channel of ``values`` (T, C) turns: a local maximum or
    minimum that the channel moves away from by more than ``swing`` on both sides (0: every strict turn;
    a plateau counts once, at its start). Wiggles smaller than ``swing`` are not extrema worth a key."""
    v = np.asarray(values, dtype=np.float64).reshape(len(values), -1)
    keep = np.zeros(len(v), dtype=bool)
    for channel in v.T:
        keep[_turning_points(channel, swing)] = True
    return keep


def _turning_points(x: np.ndarray, swing: float) -> list[int]:
    """Indices of the zig-zag turning points of ``x`` whose swings exceed ``swing`` (first and last frame excluded)."""
    out: list[int] = []
    hi = lo = 0
    rising = None  # unknown until the channel has moved by more than ``swing``
    for i in range(1, len(x)):
        if x[i] > x[hi]:
            hi = i
        if x[i] < x[lo]:
            lo = i
        if rising is None:
            if x[hi] - x[lo] > swing:
                rising = hi > lo
                turn = lo if rising else hi
                if turn > 0:
                    out.append(turn)
                lo, hi = (i, hi) if rising else (lo, i)
        elif rising and x[hi] - x[i] > swing:
            out.append(hi)
            rising, lo = False, i
        elif not rising and x[i] - x[lo] > swing:
            out.append(lo)
            rising, hi = True, i
    return out


def _interpolate(values: np.ndarray, kept: np.ndarray) -> np.ndarray:
    """Channel-wise linear interpolation (T, C) through the ``kept`` frame indices (sorted)."""
    t = np.arange(len(values))
    return np.stack([np.interp(t, kept, values[kept, c]) for c in range(values.shape[1])], axis=1)


def rotation_error(rotations: np.ndarray, kept: np.ndarray) -> np.ndarray:
    """Angle (radians, (T,)) between each frame's quaternion and what the kept keys give there."""
    return quat.angle_between(rotations, _interpolate(rotations, kept))


def location_error(locations: np.ndarray, kept: np.ndarray) -> np.ndarray:
    """Distance ((T,)) between each frame's location and what the kept keys give there."""
    return np.linalg.norm(locations - _interpolate(locations, kept), axis=1)


def reduce_keys(values: np.ndarray, tolerance: float, *, rotation: bool = True, keep_extrema: bool = True) -> np.ndarray:
    """Sorted frame indices to key for one bone's channels ``values`` (T, 4) quaternions
    (``rotation``: ``tolerance`` in radians) or (T, 3) locations (``tolerance`` in their units).

    Every frame of the input is reproduced within ``tolerance`` by interpolating the kept
    frames; the first and last frames are always kept.
    """
    values = np.asarray(values, dtype=np.float64)
    n = len(values)
    if tolerance < 0:
        raise ValueError(f"the key reduction tolerance must not be negative, got {tolerance}")
    if n <= 2:
        return np.arange(n)
    # A quaternion component moves by about half the rotation angle; a location by its distance.
    keep = extrema(values, tolerance / 2 if rotation else tolerance) if keep_extrema else np.zeros(n, dtype=bool)
    keep[[0, -1]] = True
    error_of = rotation_error if rotation else location_error
    while True:
        kept = np.flatnonzero(keep)
        error = error_of(values, kept)
        error[kept] = 0.0
        # In every segment whose worst frame is out of tolerance, keep that frame (all segments at once).
        segment = np.searchsorted(kept, np.arange(n), side="right") - 1
        worst = np.full(len(kept), -1)
        worst_error = np.zeros(len(kept))
        np.maximum.at(worst_error, segment, error)
        out = (error > tolerance) & (error == worst_error[segment])
        if not out.any():
            return kept
        first = np.zeros(len(kept), dtype=bool)
        for frame in np.flatnonzero(out):  # one frame per segment even when errors tie
            if not first[segment[frame]]:
                first[segment[frame]] = True
                worst[segment[frame]] = frame
        keep[worst[worst >= 0]] = True
