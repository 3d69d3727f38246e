"""wxyz quaternion math checked against scipy's Rotation (which is xyzw)."""

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from backend.motion import quaternions as quat


def _random(n, seed):
    return Rotation.random(n, random_state=seed)


def _wxyz(rot):
    x = rot.as_quat()
    return np.concatenate([x[:, 3:], x[:, :3]], axis=1)


def test_multiply_matches_scipy_composition():
    a, b = _random(20, 1), _random(20, 2)
    got = quat.multiply(_wxyz(a), _wxyz(b))
    assert np.allclose(quat.angle_between(got, _wxyz(a * b)), 0.0, atol=1e-12)


def test_rotate_and_matrix_match_scipy():
    r = _random(20, 3)
    v = np.random.default_rng(0).normal(size=(20, 3))
    assert np.allclose(quat.rotate(_wxyz(r), v), r.apply(v), atol=1e-12)
    assert np.allclose(quat.to_matrix(_wxyz(r)), r.as_matrix(), atol=1e-12)
    back = quat.from_matrix(r.as_matrix())
    assert np.allclose(quat.angle_between(back, _wxyz(r)), 0.0, atol=1e-7)
    assert np.all(back[:, 0] >= 0)


def test_inverse_conjugate_and_normalize():
    q = _wxyz(_random(10, 4))
    ident = quat.multiply(q, quat.inverse(q))
    assert np.allclose(ident, quat.identity((10,)), atol=1e-12)
    assert np.allclose(quat.inverse(q * 2.0), quat.conjugate(q) / 2.0)
    assert np.allclose(np.linalg.norm(quat.normalize(q * 3.0), axis=-1), 1.0)
    with pytest.raises(ValueError):
        quat.normalize(np.zeros(4))


def test_batch_shapes_broadcast():
    q = _wxyz(_random(12, 5)).reshape(3, 4, 4)
    assert quat.multiply(q, q[:1]).shape == (3, 4, 4)
    assert quat.rotate(q, np.ones(3)).shape == (3, 4, 3)
    assert quat.to_matrix(q).shape == (3, 4, 3, 3)
    assert quat.from_euler(np.zeros((3, 4, 3)), "ZYX").shape == (3, 4, 4)


@pytest.mark.parametrize("order", ["ZYX", "XYZ", "ZXY", "YXZ", "xyz", "zyx"])
def test_euler_matches_scipy_and_round_trips(order):
    angles = np.random.default_rng(6).uniform(-80, 80, (15, 3))
    q = quat.from_euler(angles, order, degrees=True)
    assert np.allclose(q, _wxyz(Rotation.from_euler(order, angles, degrees=True)), atol=1e-12)
    back = quat.to_euler(q, order, degrees=True)
    assert np.allclose(back, angles, atol=1e-9)


def test_bvh_zyx_channels_are_intrinsic_zyx():
    z, y, x = 30.0, -20.0, 50.0
    expected = quat.multiply(
        quat.multiply(quat.from_axis_angle([0, 0, np.radians(z)]), quat.from_axis_angle([0, np.radians(y), 0])),
        quat.from_axis_angle([np.radians(x), 0, 0]),
    )
    got = quat.from_euler([z, y, x], "ZYX", degrees=True)
    assert quat.angle_between(got, expected) < 1e-12


def test_6d_round_trip_and_gram_schmidt():
    q = _wxyz(_random(30, 7))
    d6 = quat.to_6d(q)
    assert d6.shape == (30, 6)
    assert np.allclose(quat.angle_between(quat.from_6d(d6), q), 0.0, atol=1e-7)
    noisy = d6 * 1.7 + np.random.default_rng(1).normal(scale=1e-3, size=d6.shape)
    m = quat.matrix_from_6d(noisy)
    assert np.allclose(m @ np.swapaxes(m, -1, -2), np.eye(3), atol=1e-12)
    assert np.allclose(np.linalg.det(m), 1.0)


def test_axis_angle_round_trip():
    rv = np.random.default_rng(8).normal(size=(20, 3))
    rv *= (np.pi * 0.9 / np.linalg.norm(rv, axis=-1, keepdims=True))
    assert np.allclose(quat.to_axis_angle(quat.from_axis_angle(rv)), rv, atol=1e-12)


def test_slerp_endpoints_midpoint_and_shortest_arc():
    a = quat.identity(())
    b = quat.from_axis_angle([0.0, 0.0, 1.0])
    assert np.allclose(quat.slerp(a, b, 0.0), a)
    assert np.allclose(quat.slerp(a, b, 1.0), b)
    mid = quat.slerp(a, -b, 0.5)  # same rotation with the other sign: still the short way
    assert np.isclose(quat.angle_between(mid, quat.from_axis_angle([0.0, 0.0, 0.5])), 0.0, atol=1e-12)
    assert np.allclose(quat.slerp(a, a, 0.3), a)


def test_make_continuous_removes_sign_flips():
    q = quat.from_axis_angle(np.linspace([0, 0, 0], [0, 3.0, 0], 50))
    flipped = q * np.where(np.arange(50) % 3 == 0, -1.0, 1.0)[:, None]
    fixed = quat.make_continuous(flipped)
    assert np.all(np.sum(fixed[1:] * fixed[:-1], axis=-1) > 0)
    assert np.allclose(np.abs(fixed), np.abs(q))


def test_about_y_is_yaw():
    q = quat.about_y(np.pi / 2)
    assert np.allclose(quat.rotate(q, [0.0, 0.0, 1.0]), [1.0, 0.0, 0.0], atol=1e-12)


ALL_TAIT_BRYAN = ["XYZ", "XZY", "YXZ", "YZX", "ZXY", "ZYX", "xyz", "xzy", "yxz", "yzx", "zxy", "zyx"]


@pytest.mark.parametrize("order", ALL_TAIT_BRYAN)
def test_every_euler_order_composes_back_including_gimbal_lock(order):
    rng = np.random.default_rng(3)
    angles = rng.uniform(-170, 170, size=(40, 3))
    angles[:10, 1] = 90.0  # gimbal lock: only the sum/difference of the outer angles is defined
    angles[10:20, 1] = -90.0
    q = quat.from_euler(angles, order, degrees=True)
    back = quat.to_euler(q, order, degrees=True)
    assert np.allclose(quat.angle_between(quat.from_euler(back, order, degrees=True), q), 0.0, atol=1e-6)
    free = slice(20, None)
    assert np.allclose(back[free], Rotation.from_euler(order, angles[free], degrees=True).as_euler(order, degrees=True), atol=1e-8)


def test_from_matrix_matches_scipy_on_every_branch():
    rots = Rotation.random(200, random_state=5)
    # include 180-degree turns about each axis, where w = 0 and the largest-diagonal branch matters
    extra = Rotation.from_rotvec(np.pi * np.eye(3))
    mats = np.concatenate([rots.as_matrix(), extra.as_matrix()])
    q = quat.from_matrix(mats)
    ref = _wxyz(Rotation.from_matrix(mats))
    assert np.allclose(np.abs(np.sum(q * ref, axis=-1)), 1.0, atol=1e-12)
    assert np.all(q[:, 0] >= 0)


def test_axis_angle_near_zero_is_smooth():
    rv = np.array([[1e-12, 0, 0], [0, 1e-9, 2e-9], [0, 0, 0]])
    q = quat.from_axis_angle(rv)
    assert np.allclose(q[:, 1:], rv / 2, atol=1e-15)
    assert np.allclose(quat.to_axis_angle(q), rv, atol=1e-15)
