"""Unit quaternions in (w, x, y, z) order on arrays of any batch shape (..., 4).

Everything is plain numpy (no scipy): this module runs inside Blender's bundled Python,
which ships numpy only. Euler orders follow scipy's convention (upper case intrinsic, lower
case extrinsic), and the tests check every conversion against scipy.
"""

from __future__ import annotations

import numpy as np

_AXES = {"x": 0, "y": 1, "z": 2}


def identity(shape: tuple[int, ...] = ()) -> np.ndarray:
    """Identity rotations of the given batch shape, (*shape, 4)."""
    q = np.zeros(tuple(shape) + (4,))
    q[..., 0] = 1.0
    return q


def normalize(q: np.ndarray) -> np.ndarray:
    """Scale to unit length (raises on zero-length quaternions, which name no rotation)."""
    q = np.asarray(q, dtype=np.float64)
    norm = np.linalg.norm(q, axis=-1, keepdims=True)
    if np.any(norm == 0) or not np.all(np.isfinite(norm)):
        raise ValueError("cannot normalise a zero-length or non-finite quaternion")
    return q / norm


def multiply(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product ``a * b`` (apply ``b`` first, then ``a``)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    aw, ax, ay, az = np.moveaxis(a, -1, 0)
    bw, bx, by, bz = np.moveaxis(b, -1, 0)
    return np.stack(
        [
            aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
        ],
        axis=-1,
    )


def conjugate(q: np.ndarray) -> np.ndarray:
    """Conjugate; equals the inverse for unit quaternions."""
    q = np.asarray(q, dtype=np.float64)
    return q * np.array([1.0, -1.0, -1.0, -1.0])


def inverse(q: np.ndarray) -> np.ndarray:
    """Multiplicative inverse (conjugate over squared norm), valid for non-unit input too."""
    q = np.asarray(q, dtype=np.float64)
    return conjugate(q) / np.sum(q * q, axis=-1, keepdims=True)


def rotate(q: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Rotate vectors ``v`` (..., 3) by unit quaternions ``q`` (..., 4), broadcasting."""
    q = np.asarray(q, dtype=np.float64)
    v = np.asarray(v, dtype=np.float64)
    w = q[..., :1]
    u = q[..., 1:]
    t = 2.0 * np.cross(u, v)
    return v + w * t + np.cross(u, t)


def to_matrix(q: np.ndarray) -> np.ndarray:
    """Rotation matrices (..., 3, 3) of unit quaternions (..., 4)."""
    w, x, y, z = np.moveaxis(np.asarray(q, dtype=np.float64), -1, 0)
    return np.stack(
        [
            np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
            np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
            np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1),
        ],
        axis=-2,
    )


def from_matrix(m: np.ndarray) -> np.ndarray:
    """Unit quaternions (w >= 0) of rotation matrices (..., 3, 3)."""
    m = np.asarray(m, dtype=np.float64)
    # Shepperd's method: build the quaternion from the largest of the four candidate
    # diagonals (w, x, y, z), which keeps the division well conditioned.
    trace = m[..., 0, 0] + m[..., 1, 1] + m[..., 2, 2]
    diag = np.stack([trace, m[..., 0, 0], m[..., 1, 1], m[..., 2, 2]], axis=-1)
    best = np.argmax(diag, axis=-1)
    r = lambda i, j: m[..., i, j]  # noqa: E731
    cands = np.stack(
        [
            np.stack([1 + trace, r(2, 1) - r(1, 2), r(0, 2) - r(2, 0), r(1, 0) - r(0, 1)], -1),
            np.stack([r(2, 1) - r(1, 2), 1 + 2 * r(0, 0) - trace, r(0, 1) + r(1, 0), r(0, 2) + r(2, 0)], -1),
            np.stack([r(0, 2) - r(2, 0), r(0, 1) + r(1, 0), 1 + 2 * r(1, 1) - trace, r(1, 2) + r(2, 1)], -1),
            np.stack([r(1, 0) - r(0, 1), r(0, 2) + r(2, 0), r(1, 2) + r(2, 1), 1 + 2 * r(2, 2) - trace], -1),
        ],
        axis=-2,
    )
    q = np.take_along_axis(cands, best[..., None, None], axis=-2)[..., 0, :]
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    return np.where(q[..., :1] < 0, -q, q)


def to_6d(q: np.ndarray) -> np.ndarray:
    """Continuous 6D representation: the first two matrix columns, (..., 6) = [col0, col1]."""
    m = to_matrix(q)
    return np.concatenate([m[..., :, 0], m[..., :, 1]], axis=-1)


def matrix_from_6d(d6: np.ndarray) -> np.ndarray:
    """Gram-Schmidt the two stored columns back into a rotation matrix (..., 3, 3)."""
    d6 = np.asarray(d6, dtype=np.float64)
    a, b = d6[..., :3], d6[..., 3:]
    c0 = a / np.linalg.norm(a, axis=-1, keepdims=True)
    b = b - np.sum(c0 * b, axis=-1, keepdims=True) * c0
    c1 = b / np.linalg.norm(b, axis=-1, keepdims=True)
    c2 = np.cross(c0, c1)
    return np.stack([c0, c1, c2], axis=-1)


def from_6d(d6: np.ndarray) -> np.ndarray:
    """Unit quaternions of 6D rotations (..., 6); inverse of :func:`to_6d` up to sign."""
    return from_matrix(matrix_from_6d(d6))


def from_euler(angles: np.ndarray, order: str, degrees: bool = False) -> np.ndarray:
    """Quaternions from Euler angles (..., len(order)).

    ``order`` follows scipy: upper case is intrinsic (BVH channels ``Zrotation Yrotation
    Xrotation`` are ``"ZYX"``: R = Rz · Ry · Rx), lower case extrinsic. One to three axes.
    """
    angles = np.asarray(angles, dtype=np.float64)
    if angles.shape[-1] != len(order):
        raise ValueError(f"{angles.shape[-1]} angles given for Euler order {order!r}")
    if degrees:
        angles = np.deg2rad(angles)
    q = identity(angles.shape[:-1])
    for n, axis in enumerate(order):
        if axis.lower() not in _AXES or (axis.isupper() != order[0].isupper()):
            raise ValueError(f"Euler order {order!r}: use one case of x, y, z")
        half = 0.5 * angles[..., n]
        step = np.zeros(angles.shape[:-1] + (4,))
        step[..., 0] = np.cos(half)
        step[..., 1 + _AXES[axis.lower()]] = np.sin(half)
        # intrinsic: each rotation is about the already-rotated axes (compose on the right)
        q = multiply(q, step) if order.isupper() else multiply(step, q)
    return q


def to_euler(q: np.ndarray, order: str, degrees: bool = False) -> np.ndarray:
    """Euler angles (..., 3) of quaternions for a three-axis ``order`` (scipy convention).

    At gimbal lock the split between the first and last angle is arbitrary but the angles
    still compose to the same rotation.
    """
    intrinsic = order.isupper()
    axes = [_AXES.get(a.lower()) for a in (order if intrinsic else order[::-1])]
    if len(order) != 3 or None in axes or len(set(axes)) != 3 or not (intrinsic or order.islower()):
        raise ValueError(f"Euler order {order!r}: three distinct axes of one case expected")
    i, j, k = axes
    sign = 1.0 if (j - i) % 3 == 1 else -1.0  # parity of the axis permutation
    m = to_matrix(q)
    # R = R_i(a) R_j(b) R_k(c) (an extrinsic order is the reversed intrinsic one)
    b = np.arcsin(np.clip(sign * m[..., i, k], -1.0, 1.0))
    a = np.arctan2(-sign * m[..., j, k], m[..., k, k])
    c = np.arctan2(-sign * m[..., i, j], m[..., i, i])
    # gimbal lock: only a + c (or a - c) is defined; put it all in a, like scipy does
    locked = np.cos(b) < 1e-7
    a = np.where(locked, np.arctan2(sign * m[..., k, j], m[..., j, j]), a)
    c = np.where(locked, 0.0, c)
    angles = np.stack([a, b, c] if intrinsic else [c, b, a], axis=-1)
    return np.rad2deg(angles) if degrees else angles


def from_axis_angle(rotvec: np.ndarray) -> np.ndarray:
    """Quaternions from rotation vectors (..., 3): axis times angle in radians."""
    rotvec = np.asarray(rotvec, dtype=np.float64)
    angle = np.linalg.norm(rotvec, axis=-1, keepdims=True)
    # sin(angle/2)/angle with its limit 1/2 near zero
    scale = np.where(angle < 1e-8, 0.5 - angle**2 / 48.0, np.sin(0.5 * angle) / np.where(angle < 1e-8, 1.0, angle))
    return np.concatenate([np.cos(0.5 * angle), rotvec * scale], axis=-1)


def to_axis_angle(q: np.ndarray) -> np.ndarray:
    """Rotation vectors (..., 3), angle in [0, pi]."""
    q = normalize(q)
    q = np.where(q[..., :1] < 0, -q, q)
    sin_half = np.linalg.norm(q[..., 1:], axis=-1, keepdims=True)
    angle = 2.0 * np.arctan2(sin_half, q[..., :1])
    scale = np.where(sin_half < 1e-8, 2.0, angle / np.where(sin_half < 1e-8, 1.0, sin_half))
    return q[..., 1:] * scale


def about_y(angle: np.ndarray) -> np.ndarray:
    """Rotations by ``angle`` radians about +Y (the up axis): headings."""
    half = 0.5 * np.asarray(angle, dtype=np.float64)
    zero = np.zeros_like(half)
    return np.stack([np.cos(half), zero, np.sin(half), zero], axis=-1)


def slerp(a: np.ndarray, b: np.ndarray, t: np.ndarray | float) -> np.ndarray:
    """Spherical interpolation along the shorter arc; ``t`` broadcasts against (...,)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)[..., None]
    dot = np.sum(a * b, axis=-1, keepdims=True)
    b = np.where(dot < 0, -b, b)
    dot = np.clip(np.abs(dot), 0.0, 1.0)
    theta = np.arccos(dot)
    sin_theta = np.sin(theta)
    near = sin_theta < 1e-8
    safe = np.where(near, 1.0, sin_theta)
    wa = np.where(near, 1.0 - t, np.sin((1.0 - t) * theta) / safe)
    wb = np.where(near, t, np.sin(t * theta) / safe)
    return normalize(wa * a + wb * b)


def make_continuous(q: np.ndarray, axis: int = 0) -> np.ndarray:
    """Flip signs along ``axis`` (time) so neighbouring quaternions have a non-negative dot."""
    q = np.moveaxis(np.asarray(q, dtype=np.float64), axis, 0)
    dots = np.sum(q[1:] * q[:-1], axis=-1)
    flips = np.cumprod(np.where(dots < 0, -1.0, 1.0), axis=0)
    first = np.ones((min(len(q), 1),) + q.shape[1:-1])  # from q, not dots: a 1-frame clip keeps its frame
    signs = np.concatenate([first, flips], axis=0)[..., None]
    return np.moveaxis(q * signs, 0, axis)


def angle_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Rotation angle (radians, [0, pi]) of ``a⁻¹ b``; sign-invariant, for tests and metrics."""
    d = multiply(conjugate(normalize(a)), normalize(b))
    return 2.0 * np.arctan2(np.linalg.norm(d[..., 1:], axis=-1), np.abs(d[..., 0]))
