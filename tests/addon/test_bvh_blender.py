"""Our BVH reader/writer and FK agree with real Blender's BVH importer and exporter (bpy wheel).

Blender's importer is told the file is already Z-up/Y-forward (``axis_forward='Y', axis_up='Z'``)
so it applies no axis conversion, with ``global_scale=1``: evaluated pose-bone heads in world space
must then equal our FK joint positions.
"""

import os
import tempfile
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("BLENDER_USER_RESOURCES", tempfile.mkdtemp(prefix="blender-user-"))
bpy = pytest.importorskip("bpy")

from backend.motion import quaternions as quat  # noqa: E402
from backend.motion.bvh import BvhData, motion_to_bvh, read_bvh, write_bvh  # noqa: E402
from backend.motion.motion import Motion  # noqa: E402
from backend.motion.skeleton import default_skeleton, forward_kinematics  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
FRAMES = (0, 5, 11)


def _fixture(name):
    for folder in (REPO / ".." / "shared" / "fixtures", Path("/work/shared/fixtures")):
        if (folder / name).is_file():
            return folder / name
    pytest.skip("shared fixtures not available")


def _motion(frames=12, seed=0):
    rng = np.random.default_rng(seed)
    sk = default_skeleton()
    t = np.linspace(0.0, 1.0, frames)[:, None, None]
    rotvec = rng.uniform(0.2, 1.0, (1, 75, 3)) * np.sin(2 * np.pi * (t + rng.uniform(0, 1, (1, 75, 3))))
    root = np.stack([np.linspace(0, 40, frames), np.full(frames, 95.0), np.linspace(10, -30, frames)], -1)
    return Motion(30.0, sk, quat.from_axis_angle(rotvec), root)


@pytest.fixture
def scene():
    bpy.ops.wm.read_homefile(use_empty=True, use_factory_startup=True)
    bpy.ops.preferences.addon_enable(module="io_anim_bvh")
    return bpy.context.scene


def _import(path):
    result = bpy.ops.import_anim.bvh(
        filepath=str(path), axis_forward="Y", axis_up="Z", global_scale=1.0, frame_start=1, use_fps_scale=False
    )
    assert result == {"FINISHED"}
    armature = bpy.context.view_layer.objects.active
    assert armature.type == "ARMATURE"
    return armature


def _blender_positions(scene, armature, names, frames):
    out = []
    for f in frames:
        scene.frame_set(f + 1)
        out.append([tuple(armature.matrix_world @ armature.pose.bones[n].head) for n in names])
    return np.array(out)


def _assert_close(got, expected, rel=1e-4):
    scale = np.abs(expected).max()
    assert np.abs(got - expected).max() <= rel * scale, np.abs(got - expected).max()


@pytest.mark.parametrize("name", ["cmu_01_example.bvh", "biovision_example.bvh"])
def test_fixture_fk_matches_blender_import(scene, name):
    path = _fixture(name)
    data = read_bvh(path)
    frames = [f for f in FRAMES if f < data.num_frames]
    armature = _import(path)
    motion = data.to_motion()
    ours, _ = forward_kinematics(motion.skeleton, motion.rotations, motion.root_positions)
    _assert_close(_blender_positions(scene, armature, data.names, frames), ours[frames])


def test_written_default_skeleton_matches_blender_import(scene, tmp_path):
    motion = _motion()
    write_bvh(tmp_path / "ours.bvh", motion)
    armature = _import(tmp_path / "ours.bvh")
    assert [b.name for b in armature.pose.bones] == motion.skeleton.names
    ours, _ = forward_kinematics(motion.skeleton, motion.rotations, motion.root_positions)
    _assert_close(_blender_positions(scene, armature, motion.skeleton.names, FRAMES), ours[list(FRAMES)])


def test_six_channel_joints_match_blender_import(scene, tmp_path):
    """Position channels on non-root joints replace the OFFSET per frame, as Blender reads them."""
    base = motion_to_bvh(_motion(seed=1), channel_order="XZY")
    moving = [base.names.index(n) for n in ("Spine2", "LeftForeArm", "RightUpLeg")]
    channels = [list(c) for c in base.channels]
    blocks = []
    for j, chans in enumerate(base.channels):
        start = sum(len(c) for c in base.channels[:j])
        block = base.values[:, start : start + len(chans)]
        if j in moving:
            drift = base.offsets[j] + np.linspace(0.0, 5.0, base.num_frames)[:, None] * [1.0, -0.5, 0.25]
            channels[j] = ["Zposition", "Xposition", "Yposition"] + chans
            block = np.concatenate([drift[:, [2, 0, 1]], block], axis=1)
        blocks.append(block)
    data = BvhData(base.names, base.parents, base.offsets, channels, base.frame_time, np.concatenate(blocks, 1), base.end_sites)
    write_bvh(tmp_path / "six.bvh", data)
    again = read_bvh(tmp_path / "six.bvh")
    assert np.array_equal(again.values, data.values)
    armature = _import(tmp_path / "six.bvh")
    _assert_close(_blender_positions(scene, armature, data.names, FRAMES), again.world_positions()[list(FRAMES)])


def test_blender_export_reads_back(scene, tmp_path):
    motion = _motion(seed=2)
    write_bvh(tmp_path / "ours.bvh", motion)
    _import(tmp_path / "ours.bvh")
    result = bpy.ops.export_anim.bvh(
        filepath=str(tmp_path / "blender.bvh"), frame_start=1, frame_end=motion.num_frames, global_scale=1.0
    )
    assert result == {"FINISHED"}
    exported = read_bvh(tmp_path / "blender.bvh")
    assert exported.num_frames == motion.num_frames
    assert any(len(c) == 6 for c in exported.channels[1:])  # Blender writes 6 channels on every bone
    order = [exported.names.index(n) for n in motion.skeleton.names]
    ours, _ = forward_kinematics(motion.skeleton, motion.rotations, motion.root_positions)
    _assert_close(exported.world_positions()[:, order], ours)

