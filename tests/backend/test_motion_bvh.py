"""BVH read/write: exact round trips (fixtures, 6-channel joints, default skeleton) and clear errors."""

import numpy as np
import pytest
from motion_samples import fixtures_dir, smooth_motion

from backend.errors import MotionFileError
from backend.motion import quaternions as quat
from backend.motion.bvh import BvhData, format_bvh, motion_to_bvh, read_bvh, write_bvh
from backend.motion.skeleton import default_skeleton, forward_kinematics

# Non-root joints with 6 channels in mixed orders, a position channel after rotations,
# a 2-channel joint, a named End Site and an odd frame rate.
SIX_CHANNEL_BVH = """HIERARCHY
ROOT pelvis
{
  OFFSET 1.5 2 3
  CHANNELS 6 Xposition Yposition Zposition Yrotation Xrotation Zrotation
  JOINT chest
  {
    OFFSET 0 10 0
    CHANNELS 6 Zrotation Xposition Yposition Zposition Xrotation Yrotation
    JOINT head
    {
      OFFSET 0 8 1
      CHANNELS 2 Xrotation Yposition
      End Site head_top
      {
        OFFSET 0 4 0
      }
    }
  }
  JOINT leg
  {
    OFFSET -3 -2 0
    CHANNELS 3 Xrotation Zrotation Yrotation
    End Site
    {
      OFFSET 0 -40 0
    }
  }
}
MOTION
Frames: 3
Frame Time: 0.04
0.1 90.2 -3.3 10 20 30 5 0.5 10.25 0.125 -45 60 15 8.5 1 -2 3
0.2 90.3 -3.1 11 -170 89.5 6 0.75 10.5 0.25 -44 61 16 8.25 2 -3 4
0.3 90.1 -2.9 12 22.5 -179.9 7 1.0 10.75 0.5 -43 62 17 8.0 3 -4 5
"""


def _write(tmp_path, text, name="take.bvh"):
    path = tmp_path / name
    path.write_text(text)
    return path


def _same(a: BvhData, b: BvhData):
    assert a.names == b.names and a.channels == b.channels
    assert np.array_equal(a.parents, b.parents) and np.array_equal(a.offsets, b.offsets)
    assert a.frame_time == b.frame_time and np.array_equal(a.values, b.values)
    assert len(a.end_sites) == len(b.end_sites)
    for (ja, oa), (jb, ob) in zip(a.end_sites, b.end_sites):
        assert ja == jb and np.array_equal(oa, ob)


@pytest.mark.parametrize("name", ["cmu_01_example.bvh", "biovision_example.bvh"])
def test_fixture_round_trip_is_exact(name, tmp_path):
    folder = fixtures_dir()
    if folder is None or not (folder / name).is_file():
        pytest.skip("shared fixtures not available")
    data = read_bvh(folder / name)
    assert data.num_frames > 0 and len(data.end_sites) > 0
    write_bvh(tmp_path / name, data)
    _same(read_bvh(tmp_path / name), data)
    # through a Motion (Euler → quaternion → Euler in another order): same world positions
    motion = data.to_motion()
    assert motion.fps == pytest.approx(1.0 / data.frame_time, rel=1e-4)
    again = read_bvh(_write(tmp_path, format_bvh(motion_to_bvh(motion, "XZY")), "again.bvh"))
    assert np.allclose(again.world_positions(), data.world_positions(), atol=1e-9)


def test_fixture_cmu_channels_and_fk():
    folder = fixtures_dir()
    if folder is None or not (folder / "cmu_01_example.bvh").is_file():
        pytest.skip("shared fixtures not available")
    data = read_bvh(folder / "cmu_01_example.bvh")
    assert data.names[:3] == ["Hips", "LHipJoint", "LeftUpLeg"]
    assert data.channels[0] == ["Xposition", "Yposition", "Zposition", "Zrotation", "Yrotation", "Xrotation"]
    motion = data.to_motion()
    pos, _ = forward_kinematics(motion.skeleton, motion.rotations, motion.root_positions)
    assert np.allclose(pos, data.world_positions(), atol=1e-9)
    assert np.allclose(pos[:, 0], data.values[:, :3])


def test_six_channel_non_root_joints_round_trip(tmp_path):
    data = read_bvh(_write(tmp_path, SIX_CHANNEL_BVH))
    assert data.fps == 25.0
    assert data.channels[2] == ["Xrotation", "Yposition"]
    assert [j for j, _ in data.end_sites] == [2, 3]
    trans = data.local_translations()
    assert np.allclose(trans[:, 1], [[0.5, 10.25, 0.125], [0.75, 10.5, 0.25], [1.0, 10.75, 0.5]])
    assert np.allclose(trans[:, 2], [[0, 8.5, 1], [0, 8.25, 1], [0, 8.0, 1]])  # only Y is a channel
    assert np.allclose(trans[:, 0], data.values[:, :3])
    # chest: Z first, then X, then Y
    expected = quat.from_euler([[5, -45, 60]], "ZXY", degrees=True)
    assert quat.angle_between(data.local_rotations()[0, 1], expected[0]) < 1e-12
    write_bvh(tmp_path / "out.bvh", data)
    again = read_bvh(tmp_path / "out.bvh")
    _same(again, data)
    # the chest moves relative to the pelvis: a rigid Motion cannot hold it
    with pytest.raises(MotionFileError, match=r"take\.bvh: joint .chest."):
        data.to_motion()


def test_world_positions_follow_position_channels(tmp_path):
    data = read_bvh(_write(tmp_path, SIX_CHANNEL_BVH))
    pos = data.world_positions()
    rot = data.local_rotations()
    chest = pos[:, 0] + quat.rotate(rot[:, 0], data.local_translations()[:, 1])
    assert np.allclose(pos[:, 1], chest)


def test_default_skeleton_motion_round_trip(tmp_path):
    motion = smooth_motion(default_skeleton(), frames=12, fps=30.0, seed=2)
    path = tmp_path / "default.bvh"
    write_bvh(path, motion)
    text = path.read_text()
    assert "CHANNELS 6 Xposition Yposition Zposition Zrotation Yrotation Xrotation" in text
    assert "Frame Time: 0.03333333333333333" in text
    data = read_bvh(path)
    assert data.names == motion.skeleton.names and data.num_frames == 12
    assert len(data.end_sites) == sum(1 for j in range(75) if j not in set(motion.skeleton.parents.tolist()))
    back = data.to_motion()
    assert back.fps == 30.0 and back.skeleton == motion.skeleton
    assert np.allclose(quat.angle_between(back.rotations, motion.rotations), 0.0, atol=1e-7)
    assert np.array_equal(back.root_positions, motion.root_positions)
    _same(read_bvh(_write(tmp_path, format_bvh(data), "again.bvh")), data)


def test_precision_option_writes_fewer_digits(tmp_path):
    motion = smooth_motion(default_skeleton(), frames=3, seed=3)
    short = format_bvh(motion_to_bvh(motion), precision=6)
    assert len(short) < len(format_bvh(motion_to_bvh(motion)))
    back = read_bvh(_write(tmp_path, short)).to_motion()
    assert np.allclose(back.root_positions, motion.root_positions, rtol=1e-5)


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda t: t.replace("HIERARCHY", "HIERARCY"), "line 1: expected 'HIERARCHY'"),
        (lambda t: t.replace("OFFSET 0 10 0", "OFFSET 0 ten 0"), "line 8: OFFSET needs 3 numbers"),
        (lambda t: t.replace("Zrotation Xposition", "Zrotation Wposition"), "line 9: unknown channel"),
        (lambda t: t.replace("Frames: 3", "Frames: 4"), "header says 4 frames"),
        (lambda t: t.replace("0.2 90.3 -3.1 11", "0.2 90.3 11"), "line 34: 16 values for 17 channels"),
        (lambda t: t.replace("0.3 90.1", "0.3 abc"), "line 35: not a number"),
        (lambda t: t.replace("Frame Time: 0.04", "Frame Time: 0"), "line 32: frame time"),
        (lambda t: t.replace("MOTION", "MOTON"), "no MOTION section"),
        (lambda t: t.replace("JOINT leg", "JOINT head"), "appears twice"),
        (lambda t: t.replace("  JOINT leg\n  {", "  JOINT leg\n"), "expected '{'"),
    ],
)
def test_malformed_files_name_file_and_line(tmp_path, mutate, message):
    path = _write(tmp_path, mutate(SIX_CHANNEL_BVH), "broken.bvh")
    with pytest.raises(MotionFileError) as err:
        read_bvh(path)
    assert "broken.bvh" in str(err.value)
    assert message in str(err.value)


def test_missing_file(tmp_path):
    with pytest.raises(MotionFileError, match="nothere.bvh"):
        read_bvh(tmp_path / "nothere.bvh")


def test_joints_stored_out_of_depth_first_order_keep_their_values(tmp_path):
    """The hierarchy is written depth-first; the MOTION columns must follow that order."""
    rng = np.random.default_rng(7)
    data = BvhData(
        names=["root", "a", "b", "a2"],  # a2 is a's child but stored after b
        parents=[-1, 0, 0, 1],
        offsets=[[0, 0, 0], [0, 10, 0], [5, 0, 0], [0, 6, 0]],
        channels=[["Xposition", "Yposition", "Zposition", "Zrotation", "Yrotation", "Xrotation"]]
        + [["Zrotation", "Yrotation", "Xrotation"]] * 3,
        frame_time=1 / 30,
        values=rng.uniform(-40, 40, size=(5, 15)),
    )
    path = tmp_path / "unordered.bvh"
    write_bvh(path, data)
    back = read_bvh(path)
    assert back.names == ["root", "a", "a2", "b"]
    for name in data.names:
        j, k = data.names.index(name), back.names.index(name)
        assert np.array_equal(data.values[:, data._columns()[j] : data._columns()[j] + len(data.channels[j])],
                              back.values[:, back._columns()[k] : back._columns()[k] + len(back.channels[k])]), name
    assert np.allclose(back.world_positions()[:, [0, 1, 3, 2]], data.world_positions(), atol=1e-9)
