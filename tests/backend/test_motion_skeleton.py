"""Skeleton validation, JSON round trip, mirror pairs, the default ZEGGS layout and FK."""

import json

import numpy as np
import pytest

from backend.motion import quaternions as quat
from backend.motion.skeleton import Skeleton, default_skeleton, forward_kinematics, rest_positions

ZEGGS_PARENTS = [
    -1, 0, 1, 2, 3, 4, 5, 6, 7, 4, 9, 10, 11, 12, 13, 14, 15, 12, 17, 18, 19, 12, 21, 22, 23, 12, 25, 26, 27,
    12, 29, 30, 31, 12, 11, 4, 35, 36, 37, 38, 39, 40, 41, 38, 43, 44, 45, 38, 47, 48, 49, 38, 51, 52, 53, 38, 55, 56,
    57, 38, 37, 0, 61, 62, 63, 64, 63, 62, 0, 68, 69, 70, 71, 70, 69,
]  # DESIGN.md §5


def _fingers(side):
    return [f"{side}Hand{f}{k}" for f in ("Thumb", "Index", "Middle", "Ring", "Pinky") for k in range(1, 5)]


def _zeggs_names():
    arm = lambda s: [f"{s}Shoulder", f"{s}Arm", f"{s}ForeArm", f"{s}Hand", *_fingers(s), f"{s}ForeArmEnd", f"{s}ArmEnd"]
    leg = lambda s: [f"{s}UpLeg", f"{s}Leg", f"{s}Foot", f"{s}ToeBase", f"{s}ToeBaseEnd", f"{s}LegEnd", f"{s}UpLegEnd"]
    spine = ["Hips", "Spine", "Spine1", "Spine2", "Spine3", "Neck", "Neck1", "Head", "HeadEnd"]
    return spine + arm("Right") + arm("Left") + leg("Right") + leg("Left")


def test_default_skeleton_is_the_zeggs_layout():
    sk = default_skeleton()
    assert sk.names == _zeggs_names()
    assert sk.parents.tolist() == ZEGGS_PARENTS
    assert sk.num_joints == 75
    assert np.allclose(sk.rest_rotations, quat.identity((75,)))


def test_default_rest_pose_is_a_plausible_t_pose():
    sk = default_skeleton()
    pos = rest_positions(sk)
    at = lambda name: pos[sk.index(name)]
    assert at("Hips")[1] == pytest.approx(95.0)
    assert at("Head")[1] > at("Neck")[1] > at("Hips")[1]
    assert 160.0 < at("HeadEnd")[1] < 190.0
    # arms along ±X (T-pose), left at +X, mirror-symmetric about the YZ plane
    assert at("LeftHand")[0] > 60.0 and np.allclose(at("LeftHand")[1:], at("LeftArm")[1:])
    pairs = sk.mirror_map()
    assert np.allclose(pos[pairs] * [-1, 1, 1], pos)
    assert np.all(pos[:, 1] > -1e-9)  # nothing below the floor
    assert abs(at("LeftFoot")[1]) < 15.0


def test_mirror_map_pairs_left_and_right():
    sk = default_skeleton()
    pairs = sk.mirror_map()
    assert sk.names[pairs[sk.index("LeftHandPinky3")]] == "RightHandPinky3"
    assert sk.names[pairs[sk.index("RightUpLegEnd")]] == "LeftUpLegEnd"
    assert pairs[sk.index("Head")] == sk.index("Head")
    assert np.array_equal(pairs[pairs], np.arange(75))
    cmu = Skeleton(["Hips", "LHipJoint", "RHipJoint", "Lower"], [-1, 0, 0, 0], np.zeros((4, 3)), quat.identity((4,)))
    assert cmu.mirror_map().tolist() == [0, 2, 1, 3]


def test_dict_round_trip_is_json_safe():
    sk = default_skeleton()
    back = Skeleton.from_dict(json.loads(json.dumps(sk.to_dict())))
    assert back == sk
    with pytest.raises(ValueError, match="lacks"):
        Skeleton.from_dict({"names": ["a"]})


@pytest.mark.parametrize(
    "names, parents, match",
    [
        (["a", "a"], [-1, 0], "not unique"),
        (["a", "b"], [-1, 1], "parents must come before"),
        (["a", "b"], [0, -1], "must be the root"),
        (["a", "b"], [-1], "parents"),
    ],
)
def test_validation_errors_are_clear(names, parents, match):
    with pytest.raises(ValueError, match=match):
        Skeleton(names, parents, np.zeros((len(names), 3)), quat.identity((len(names),)))


def test_index_lookup():
    sk = default_skeleton()
    assert sk.index("LeftHand") == 38
    with pytest.raises(KeyError, match="Nope"):
        sk.index("Nope")


def test_fk_chain_by_hand():
    sk = Skeleton(["root", "a", "b"], [-1, 0, 1], [[0, 0, 0], [0, 10, 0], [5, 0, 0]], quat.identity((3,)))
    rot = quat.identity((1, 3))
    rot[0, 0] = quat.about_y(np.pi / 2)  # +X turns to -Z
    rot[0, 1] = quat.from_axis_angle([0, 0, np.pi / 2])  # in a's frame, +X turns to +Y
    pos, wrot = forward_kinematics(sk, rot, np.array([[1.0, 2.0, 3.0]]))
    assert np.allclose(pos[0], [[1, 2, 3], [1, 12, 3], [1, 17, 3]])
    assert np.allclose(quat.rotate(wrot[0, 2], [1, 0, 0]), [0, 1, 0])
    with pytest.raises(ValueError, match="rotations must have shape"):
        forward_kinematics(sk, rot[:, :2], np.zeros((1, 3)))


def test_fk_bone_lengths_are_preserved_under_random_rotations():
    sk = default_skeleton()
    from scipy.spatial.transform import Rotation

    x = Rotation.random(5 * 75, random_state=3).as_quat().reshape(5, 75, 4)
    rot = np.concatenate([x[..., 3:], x[..., :3]], axis=-1)
    pos, _ = forward_kinematics(sk, rot, np.zeros((5, 3)))
    lengths = np.linalg.norm(pos[:, 1:] - pos[:, sk.parents[1:]], axis=-1)
    assert np.allclose(lengths, np.linalg.norm(sk.offsets[1:], axis=-1))
