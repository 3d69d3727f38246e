"""Intensity, key reduction and body-part masks: the numpy math behind the animator's workflow (no Blender)."""

import numpy as np
import pytest

from backend.motion import quaternions as quat
from backend.motion.body_parts import MASKS, body_parts, mask_bone_map, masked_joints
from backend.motion.intensity import idle_pose, scale_locations, scale_rotations
from backend.motion.key_reduction import extrema, reduce_keys, location_error, rotation_error
from backend.motion.skeleton import Skeleton, default_skeleton

from motion_samples import smooth_motion


def _rotations(frames=120, joints=5, seed=0):
    """Smooth gestures of a few joints (not the turning root) about a tilted posture, offsets under 70 degrees."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0.0, 1.0, frames)[:, None, None]
    rotvec = 0.4 * np.sin(2 * np.pi * (rng.uniform(0.5, 2.0, (1, joints, 3)) * t + rng.uniform(size=(1, joints, 3))))
    posture = quat.from_axis_angle(rng.normal(scale=0.5, size=(joints, 3)))
    return quat.make_continuous(quat.multiply(posture, quat.from_axis_angle(rotvec)))


# --- intensity -----------------------------------------------------------------------------------------------
def test_idle_pose_is_the_sign_invariant_mean():
    rng = np.random.default_rng(0)
    centre = quat.normalize(rng.normal(size=4))
    samples = quat.multiply(centre, quat.from_axis_angle(rng.normal(scale=0.2, size=(500, 3))))
    samples[::3] *= -1  # the same rotations, other hemisphere
    assert np.degrees(quat.angle_between(idle_pose(samples), centre)) < 2.0


def test_intensity_zero_gives_the_idle_pose_and_two_doubles_every_offset():
    q = _rotations()
    idle = idle_pose(q)
    np.testing.assert_allclose(quat.angle_between(scale_rotations(q, 0.0), idle[None]), 0.0, atol=1e-7)
    np.testing.assert_allclose(scale_rotations(q, 1.0), q)
    offset = quat.angle_between(idle[None], q)
    assert offset.max() < np.pi / 2  # doubling stays on the short arc, so it is measurable as an angle
    doubled = quat.angle_between(idle[None], scale_rotations(q, 2.0))
    np.testing.assert_allclose(doubled, 2 * offset, atol=1e-6)
    half = scale_rotations(q, 0.5)
    np.testing.assert_allclose(quat.angle_between(idle[None], half), 0.5 * offset, atol=1e-6)
    # The axis of each offset is kept: the halved pose lies on the arc from the idle pose to the original.
    np.testing.assert_allclose(quat.angle_between(half, q), 0.5 * offset, atol=1e-6)


def test_intensity_keeps_the_signs_of_the_input_and_rejects_out_of_range():
    q = _rotations()
    q[40:] *= -1  # a sign flip in time, as F-curves of a continuous clip never have, but the input decides
    out = scale_rotations(q, 1.5)
    assert np.all(np.sum(out * q, axis=-1) > 0)
    with pytest.raises(ValueError, match="intensity must be between 0 and 2"):
        scale_rotations(q, 2.5)


def test_location_intensity_scales_about_the_mean():
    x = np.random.default_rng(1).normal(size=(50, 3))
    np.testing.assert_allclose(scale_locations(x, 0.0), np.broadcast_to(x.mean(0), x.shape))
    np.testing.assert_allclose(scale_locations(x, 2.0) - x.mean(0), 2 * (x - x.mean(0)))


# --- key reduction ---------------------------------------------------------------------------------------------
def test_extrema_finds_turning_points_and_plateaus_once():
    v = np.array([0, 1, 2, 2, 2, 1, 0, 0, 1], dtype=float)[:, None]
    assert np.flatnonzero(extrema(v)).tolist() == [2, 6]


def test_wiggles_smaller_than_the_swing_are_not_extrema():
    t = np.linspace(0, 1, 200)
    v = (np.sin(2 * np.pi * t) + 0.01 * np.sin(2 * np.pi * 40 * t))[:, None]
    assert len(np.flatnonzero(extrema(v))) > 10  # every wiggle near the peaks turns
    turns = np.flatnonzero(extrema(v, swing=0.1))
    assert len(turns) == 2 and abs(turns[0] - 50) <= 3 and abs(turns[1] - 150) <= 3


@pytest.mark.parametrize("tol_deg", [0.1, 0.5, 2.0])
def test_reduced_rotation_keys_stay_within_tolerance_and_keep_ends_and_extrema(tol_deg):
    q = _rotations(frames=300, joints=1)[:, 0]
    kept = reduce_keys(q, np.radians(tol_deg))
    assert kept[0] == 0 and kept[-1] == len(q) - 1 and np.all(np.diff(kept) > 0)
    assert set(np.flatnonzero(extrema(q, np.radians(tol_deg) / 2))) <= set(kept)
    assert np.degrees(rotation_error(q, kept).max()) <= tol_deg + 1e-9
    assert len(kept) < len(q) / 3


def test_a_looser_tolerance_keeps_fewer_keys_and_zero_keeps_what_a_line_cannot_give():
    q = _rotations(frames=300, joints=1)[:, 0]
    counts = [len(reduce_keys(q, np.radians(t), keep_extrema=False)) for t in (0.05, 0.5, 5.0)]
    assert counts[0] > counts[1] > counts[2]
    line = quat.normalize(np.linspace([1.0, 0, 0, 0], [1.0, 0.0, 0, 0], 10))
    assert reduce_keys(line, 0.0).tolist() == [0, 9]


def test_reduced_location_keys_stay_within_tolerance():
    x = smooth_motion(default_skeleton(), frames=200).root_positions
    kept = reduce_keys(x, 0.5, rotation=False)
    assert location_error(x, kept).max() <= 0.5 and len(kept) < 100
    with pytest.raises(ValueError, match="must not be negative"):
        reduce_keys(x, -1.0, rotation=False)


# --- body parts ------------------------------------------------------------------------------------------------
def test_zeggs_body_parts():
    skel = default_skeleton()
    parts = {k: {skel.names[j] for j in v} for k, v in body_parts(skel).items()}
    assert parts["spine"] == {"Spine", "Spine1", "Spine2", "Spine3"}
    assert {"Neck", "Neck1", "Head"} <= parts["head"]
    assert {"LeftShoulder", "LeftArm", "LeftForeArm", "LeftHand", "RightHand"} <= parts["arms"]
    assert "LeftHandIndex1" in parts["fingers"] and "RightHandThumb4" in parts["fingers"]
    assert {"Hips", "LeftUpLeg", "RightFoot"} <= parts["lower"]
    assert sum(map(len, parts.values())) == skel.num_joints  # every joint in exactly one part


def test_masks_nest_and_fingers_switch():
    skel = default_skeleton()
    full, upper, arms, head = (masked_joints(skel, m) for m in MASKS)
    assert head < upper < full and arms < upper and not arms & head
    assert len(full) == skel.num_joints and "Hips" not in upper and "LeftUpLeg" not in upper
    no_fingers = masked_joints(skel, "ARMS", fingers=False)
    assert "LeftHandIndex1" in arms and "LeftHandIndex1" not in no_fingers and "LeftHand" in no_fingers
    assert mask_bone_map({"Head": "head", "LeftUpLeg": "thigh.L"}, skel, "UPPER") == {"Head": "head"}
    with pytest.raises(ValueError, match="unknown body-part mask 'LEGS'"):
        masked_joints(skel, "LEGS")


def test_a_skeleton_without_a_neck_is_refused_in_words():
    skel = Skeleton(["root", "a"], np.array([-1, 0]), np.zeros((2, 3)), quat.identity((2,)))
    with pytest.raises(ValueError, match="no neck or head joint"):
        body_parts(skel)
