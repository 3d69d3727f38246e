"""Gesture intensity: scale a clip's joint rotations about its idle pose (numpy only, no bpy).

An animator's "calmer" or "more animated" is a factor on how far each joint swings away from
where it rests. Per joint, the offset from the idle pose ``d = idle⁻¹ q`` is raised to the
power ``factor`` (the rotation angle is multiplied, the axis kept: a slerp from the idle pose
extrapolated past 1 for factors above one), so 0 gives the idle pose, 1 the clip as generated
and 2 twice every joint-angle offset. The idle pose defaults to each joint's average
orientation over the clip (the posture the speaker returns to), so factor 0 is a still
character in its natural stance rather than the rig's T-pose.
"""

from __future__ import annotations

import numpy as np

from . import quaternions as quat

MAX_INTENSITY = 2.0


def idle_pose(rotations: np.ndarray) -> np.ndarray:
    """Each joint's average orientation (..., 4) over time (axis 0): the unit quaternion that
    maximises the summed squared dot with the samples (Markley's mean, sign-invariant)."""
    q = np.asarray(rotations, dtype=np.float64)
    scatter = np.einsum("t...i,t...j->...ij", q, q)
    _, vectors = np.linalg.eigh(scatter)
    mean = vectors[..., :, -1]
    return quat.normalize(np.where(mean[..., :1] < 0, -mean, mean))


def scale_rotations(rotations: np.ndarray, factor: float, idle: np.ndarray | None = None) -> np.ndarray:
    """``rotations`` (T, ..., 4) with every offset from ``idle`` (..., 4) scaled by ``factor``.

    The result keeps the input's signs frame by frame (so sign continuity over time, which
    F-curves need, survives). ``idle`` defaults to :func:`idle_pose`.
    """
    if not 0.0 <= factor <= MAX_INTENSITY:
        raise ValueError(f"intensity must be between 0 and {MAX_INTENSITY:g}, got {factor}")
    q = np.asarray(rotations, dtype=np.float64)
    if factor == 1.0:
        return q.copy()
    idle = idle_pose(q) if idle is None else np.asarray(idle, dtype=np.float64)
    idle = np.broadcast_to(idle, q.shape)
    offset = quat.to_axis_angle(quat.multiply(quat.conjugate(idle), q))  # shortest arc, angle in [0, pi]
    scaled = quat.multiply(idle, quat.from_axis_angle(factor * offset))
    return np.where(np.sum(scaled * q, axis=-1, keepdims=True) < 0, -scaled, scaled)


def scale_locations(locations: np.ndarray, factor: float, idle: np.ndarray | None = None) -> np.ndarray:
    """Positions (T, ..., 3) moved ``factor`` times as far from ``idle`` (default: their mean over time)."""
    if not 0.0 <= factor <= MAX_INTENSITY:
        raise ValueError(f"intensity must be between 0 and {MAX_INTENSITY:g}, got {factor}")
    x = np.asarray(locations, dtype=np.float64)
    idle = x.mean(axis=0) if idle is None else np.asarray(idle, dtype=np.float64)
    return idle + factor * (x - idle)
