"""Retargeting math without Blender: world joint positions must survive any rest orientation."""

import numpy as np
import pytest

from backend.motion import quaternions as quat
from backend.motion.motion import Motion
from backend.motion.retarget import Y_UP_TO_Z_UP, TargetRig, retarget
from backend.motion.skeleton import default_skeleton, forward_kinematics, rest_positions


def _motion(frames=12, seed=0, fps=20.0):
    """A smooth random motion on the default skeleton with a wandering root."""
    skel = default_skeleton()
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 1, frames)[:, None, None]
    amp = rng.normal(scale=0.6, size=(1, skel.num_joints, 3))
    phase = rng.uniform(0, 2 * np.pi, size=(1, skel.num_joints, 3))
    rot = quat.from_axis_angle(amp * np.sin(2 * np.pi * t + phase))
    root = skel.offsets[0] + np.stack([30 * np.sin(3 * t[:, 0, 0]), 5 * t[:, 0, 0], -20 * t[:, 0, 0]], -1)
    return Motion(fps, skel, rot, root)


def _rig(skel, extra=None, scale=0.01, object_matrix=None, head_frame=Y_UP_TO_Z_UP):
    """A rig whose bone heads sit on the skeleton's rest joints; ``extra`` turns each bone's rest
    orientation (a different roll / bone axis) without moving any head."""
    pos = rest_positions(skel)
    _, world = forward_kinematics(skel, skel.rest_rotations[None], skel.offsets[:1])
    orient = quat.multiply(head_frame, world[0])
    if extra is not None:
        orient = quat.multiply(orient, extra)
    mats = np.tile(np.eye(4), (skel.num_joints, 1, 1))
    mats[:, :3, :3] = quat.to_matrix(orient)
    mats[:, :3, 3] = scale * quat.rotate(head_frame, pos)
    return TargetRig(skel.names, skel.parents, mats, np.eye(4) if object_matrix is None else object_matrix)


def _pose_rig(rig: TargetRig, basis_rotations: np.ndarray, basis_locations: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """World bone heads (T, B, 3) and world rotations (T, B, 4) for pose-bone basis channels.

    Blender's rule: ``pose = parent_pose @ parent_rest⁻¹ @ rest @ basis``, then the object
    matrix: the check of retarget's results without Blender.
    """
    basis_rotations = np.asarray(basis_rotations, dtype=np.float64)
    basis_locations = np.asarray(basis_locations, dtype=np.float64)
    rel_rot, rel_head = rig.relative_rest()
    n = len(rig.names)
    pose_rot = np.empty(basis_rotations.shape[:1] + (n, 4))
    pose_head = np.empty(basis_rotations.shape[:1] + (n, 3))
    for b, p in enumerate(rig.parents):
        local_rot = np.broadcast_to(rel_rot[b], basis_rotations[:, b].shape)
        offset = rel_head[b] + quat.rotate(local_rot, basis_locations[:, b])
        if p < 0:
            pose_rot[:, b] = quat.multiply(local_rot, basis_rotations[:, b])
            pose_head[:, b] = offset
        else:
            pose_rot[:, b] = quat.multiply(pose_rot[:, p], quat.multiply(local_rot, basis_rotations[:, b]))
            pose_head[:, b] = pose_head[:, p] + quat.rotate(pose_rot[:, p], offset)
    world_head = pose_head @ rig.object_matrix[:3, :3].T + rig.object_matrix[:3, 3]
    world_rot = quat.multiply(rig.object_rotation, pose_rot)
    return world_head, world_rot


def _identity_map(skel):
    return {n: n for n in skel.names}


def _evaluate(rig, result, frames):
    """World bone heads and rotations for a retarget result (unkeyed bones at identity)."""
    rot = quat.identity((frames, len(rig.names)))
    loc = np.zeros((frames, len(rig.names), 3))
    idx = [rig.index(b) for b in result.bones]
    rot[:, idx] = result.rotations
    if result.root_bone is not None:
        loc[:, rig.index(result.root_bone)] = result.root_locations
    return _pose_rig(rig, rot, loc)


def _expected_world(motion, scale=0.01):
    pos, rot = forward_kinematics(motion.skeleton, motion.rotations, motion.root_positions)
    return scale * quat.rotate(Y_UP_TO_Z_UP, pos), quat.multiply(Y_UP_TO_Z_UP, rot)


def test_identity_retarget_reproduces_source_world_positions():
    motion = _motion()
    rig = _rig(motion.skeleton)
    result = retarget(motion, rig, _identity_map(motion.skeleton))
    heads, _ = _evaluate(rig, result, motion.num_frames)
    expected, _ = _expected_world(motion)
    assert result.root_bone == "Hips"
    assert result.rotations.shape == (motion.num_frames, 75, 4)
    np.testing.assert_allclose(heads, expected, atol=1e-9)
    # Identity rest onto an identical rig: the basis is the source's local rotation.
    assert np.all(quat.angle_between(result.rotations, motion.rotations) < 1e-7)


def test_different_rest_orientations_give_same_world_positions():
    motion = _motion(seed=1)
    rng = np.random.default_rng(7)
    extra = quat.normalize(rng.normal(size=(motion.skeleton.num_joints, 4)))
    plain = _rig(motion.skeleton)
    rolled = _rig(motion.skeleton, extra=extra)
    heads_a, rot_a = _evaluate(plain, retarget(motion, plain, _identity_map(motion.skeleton)), motion.num_frames)
    result = retarget(motion, rolled, _identity_map(motion.skeleton))
    heads_b, rot_b = _evaluate(rolled, result, motion.num_frames)
    np.testing.assert_allclose(heads_b, heads_a, atol=1e-4)
    # Each bone's world orientation is the source's, carried by its own rest offset.
    assert np.all(quat.angle_between(rot_b, quat.multiply(rot_a, extra)) < 1e-6)
    # The differing rolls really change the keyed values.
    assert np.max(quat.angle_between(result.rotations, motion.rotations)) > 0.5


def test_hip_height_ratio_scales_root_translation():
    motion = _motion(seed=2)
    skel = motion.skeleton
    big = type(skel)(skel.names, skel.parents, skel.offsets * 2.0, skel.rest_rotations)
    rig = _rig(big)
    heads, _ = _evaluate(rig, retarget(motion, rig, _identity_map(skel)), motion.num_frames)
    big_motion = Motion(motion.fps, big, motion.rotations, 2.0 * motion.root_positions)
    expected, _ = _expected_world(big_motion)
    np.testing.assert_allclose(heads, expected, atol=1e-9)
    # An explicit scale overrides the ratio: half the hip displacement.
    rest_hip = 0.02 * quat.rotate(Y_UP_TO_Z_UP, skel.offsets[0])
    result = retarget(motion, rig, _identity_map(skel), translation_scale=0.01)
    heads_half, _ = _evaluate(rig, result, motion.num_frames)
    np.testing.assert_allclose(heads_half[:, 0] - rest_hip, 0.5 * (expected[:, 0] - rest_hip), atol=1e-9)


def test_in_place_keeps_height_and_drops_ground_travel():
    motion = _motion(seed=3)
    rig = _rig(motion.skeleton)
    heads, _ = _evaluate(rig, retarget(motion, rig, _identity_map(motion.skeleton), root_motion=False), motion.num_frames)
    expected, _ = _expected_world(motion)
    np.testing.assert_allclose(heads[:, 0, :2], 0.0, atol=1e-12)
    np.testing.assert_allclose(heads[:, 0, 2], expected[:, 0, 2], atol=1e-9)


def test_unmapped_bones_inherit_and_mapped_children_stay_right():
    motion = _motion(seed=4)
    skel = motion.skeleton
    rig = _rig(skel, extra=quat.normalize(np.random.default_rng(3).normal(size=(skel.num_joints, 4))))
    bone_map = _identity_map(skel)
    del bone_map["LeftForeArm"]
    result = retarget(motion, rig, bone_map)
    assert "LeftForeArm" not in result.bones and len(result.bones) == 74
    heads, rot = _evaluate(rig, result, motion.num_frames)
    full_heads, full_rot = _evaluate(rig, retarget(motion, rig, _identity_map(skel)), motion.num_frames)
    fore, arm, hand = (skel.index(n) for n in ("LeftForeArm", "LeftArm", "LeftHand"))
    # The unmapped forearm follows its parent rigidly (its rest offset from the upper arm).
    rel = quat.multiply(quat.conjugate(rot[:, arm]), rot[:, fore])
    assert np.all(quat.angle_between(rel, rel[:1]) < 1e-9)
    # The hand still gets its world rotation from the world delta.
    assert np.all(quat.angle_between(rot[:, hand], full_rot[:, hand]) < 1e-6)
    np.testing.assert_allclose(heads[:, arm], full_heads[:, arm], atol=1e-9)


def test_object_rotation_and_y_up_armature_space():
    """A Mixamo-style FBX import: Y-up centimetre armature, object rotated +90° about X and
    scaled 0.01, then turned 90° about Z: the character moves in its own frame."""
    motion = _motion(seed=5)
    skel = motion.skeleton
    turn = np.array([np.cos(np.pi / 4), 0, 0, np.sin(np.pi / 4)])
    obj = np.eye(4)
    obj[:3, :3] = quat.to_matrix(quat.multiply(turn, Y_UP_TO_Z_UP)) * 0.01
    obj[:3, 3] = [1.0, 2.0, 0.5]
    rig = _rig(skel, scale=1.0, object_matrix=obj, head_frame=quat.identity())
    heads, _ = _evaluate(rig, retarget(motion, rig, _identity_map(skel)), motion.num_frames)
    pos, _ = forward_kinematics(skel, motion.rotations, motion.root_positions)
    expected = 0.01 * quat.rotate(quat.multiply(turn, Y_UP_TO_Z_UP), pos) + obj[:3, 3]
    np.testing.assert_allclose(heads, expected, atol=1e-9)


def test_quaternion_signs_stay_continuous():
    skel = default_skeleton()
    frames = 90
    angle = np.linspace(0, 4 * np.pi, frames)  # two full turns: raw quaternions flip sign
    rot = quat.identity((frames, skel.num_joints))
    rot[:, skel.index("Head")] = quat.from_axis_angle(angle[:, None] * np.array([0.0, 1.0, 0.0]))
    motion = Motion(20.0, skel, rot, np.tile(skel.offsets[0], (frames, 1)))
    rig = _rig(skel, extra=quat.normalize(np.random.default_rng(0).normal(size=(skel.num_joints, 4))))
    result = retarget(motion, rig, _identity_map(skel))
    dots = np.sum(result.rotations[1:] * result.rotations[:-1], axis=-1)
    assert dots.min() > 0.9
    assert np.all(result.rotations[0, :, 0] >= 0)


def test_smoothing_removes_jitter_but_keeps_the_mean():
    skel = default_skeleton()
    frames = 40
    jitter = np.where(np.arange(frames) % 2 == 0, 0.2, -0.2)
    rot = quat.identity((frames, skel.num_joints))
    rot[:, skel.index("Neck")] = quat.from_axis_angle(jitter[:, None] * np.array([1.0, 0.0, 0.0]))
    motion = Motion(20.0, skel, rot, np.tile(skel.offsets[0], (frames, 1)))
    rig = _rig(skel)
    raw = retarget(motion, rig, {"Neck": "Neck", "Hips": "Hips"})
    smooth = retarget(motion, rig, {"Neck": "Neck", "Hips": "Hips"}, smoothing=2.0)
    neck = raw.bones.index("Neck")
    raw_angle = quat.angle_between(raw.rotations[:, neck], quat.identity())
    smooth_angle = quat.angle_between(smooth.rotations[:, neck], quat.identity())
    assert raw_angle.min() > 0.19 and smooth_angle.max() < 0.05
    np.testing.assert_allclose(np.linalg.norm(smooth.rotations, axis=-1), 1.0)


def test_bad_maps_raise_clear_errors():
    motion = _motion(frames=3)
    rig = _rig(motion.skeleton)
    with pytest.raises(ValueError, match="lacks: Nope"):
        retarget(motion, rig, {"Hips": "Nope"})
    with pytest.raises(ValueError, match="skeleton lacks: Tail"):
        retarget(motion, rig, {"Tail": "Hips"})
    with pytest.raises(ValueError, match="more than one joint: Hips"):
        retarget(motion, rig, {"Hips": "Hips", "Spine": "Hips"})
    with pytest.raises(ValueError, match="matches no bone"):
        retarget(motion, rig, {"Hips": ""})
    with pytest.raises(ValueError, match="mirrored"):
        TargetRig(rig.names, rig.parents, rig.rest_matrices, np.diag([-1.0, 1.0, 1.0, 1.0]))


def _posed_rig(skel, pose, extra):
    """A rig whose rest pose is ``pose`` (J, 4 local rotations) of the same skeleton, e.g. an A-pose."""
    pos, world = forward_kinematics(skel, pose[None], skel.offsets[:1])
    mats = np.tile(np.eye(4), (skel.num_joints, 1, 1))
    mats[:, :3, :3] = quat.to_matrix(quat.multiply(quat.multiply(Y_UP_TO_Z_UP, world[0]), extra))
    mats[:, :3, 3] = 0.01 * quat.rotate(Y_UP_TO_Z_UP, pos[0])
    return TargetRig(skel.names, skel.parents, mats, np.eye(4))


def test_a_pose_rig_follows_a_t_pose_source_when_rest_poses_are_matched():
    motion = _motion(seed=6)
    skel = motion.skeleton
    rng = np.random.default_rng(11)
    pose = quat.identity((skel.num_joints,))
    pose[skel.index("LeftArm")] = quat.from_axis_angle(np.array([0.0, 0.0, -0.6]))  # arms ~35° down
    pose[skel.index("RightArm")] = quat.from_axis_angle(np.array([0.0, 0.0, 0.6]))
    pose[skel.index("Spine1")] = quat.from_axis_angle(np.array([0.2, 0.0, 0.0]))  # a slouch
    pose[skel.index("LeftHandIndex1")] = quat.from_axis_angle(np.array([0.0, 0.4, 0.3]))  # curled finger
    rig = _posed_rig(skel, pose, quat.normalize(rng.normal(size=(skel.num_joints, 4))))
    expected, _ = _expected_world(motion)
    matched, _ = _evaluate(rig, retarget(motion, rig, _identity_map(skel)), motion.num_frames)
    np.testing.assert_allclose(matched, expected, atol=1e-9)
    # Without matching, the rig keeps its A-pose offset: the hands end up elsewhere.
    raw, _ = _evaluate(rig, retarget(motion, rig, _identity_map(skel), match_rest_pose=False), motion.num_frames)
    assert np.abs(raw[:, skel.index("LeftHand")] - expected[:, skel.index("LeftHand")]).max() > 0.1
