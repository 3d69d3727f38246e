"""Motion container: validation, pickle-free npz, slicing, resampling and mirroring."""

import numpy as np
import pytest
from motion_samples import smooth_motion

from backend.errors import MotionFileError
from backend.motion import quaternions as quat
from backend.motion.motion import Motion
from backend.motion.skeleton import default_skeleton, forward_kinematics


@pytest.fixture(scope="module")
def motion():
    return smooth_motion(default_skeleton(), frames=31, fps=30.0, seed=1)


def test_validation(motion):
    sk = motion.skeleton
    with pytest.raises(ValueError, match="shape"):
        Motion(30, sk, motion.rotations[:, :5], motion.root_positions)
    with pytest.raises(ValueError, match="root positions"):
        Motion(30, sk, motion.rotations, motion.root_positions[:-1])
    with pytest.raises(ValueError, match="frame rate"):
        Motion(0, sk, motion.rotations, motion.root_positions)
    with pytest.raises(ValueError, match="unit"):
        Motion(30, sk, motion.rotations * 2, motion.root_positions)
    bad = motion.root_positions.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        Motion(30, sk, motion.rotations, bad)


def test_npz_round_trip_without_pickle(motion, tmp_path):
    path = tmp_path / "take.npz"
    motion.save_npz(path)
    with np.load(path, allow_pickle=False) as data:
        assert set(data.files) == {"fps", "rotations", "root_positions", "skeleton"}
        assert data["skeleton"].dtype.kind == "U"
    back = Motion.load_npz(path)
    assert back.fps == motion.fps and back.skeleton == motion.skeleton
    assert np.array_equal(back.rotations, motion.rotations)
    assert np.array_equal(back.root_positions, motion.root_positions)
    assert list(tmp_path.iterdir()) == [path]


def test_load_npz_rejects_pickled_and_broken_files(tmp_path):
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, skeleton=np.array([{"a": 1}], dtype=object), fps=30.0)
    with pytest.raises(MotionFileError, match="pickled.npz"):
        Motion.load_npz(pickled)
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip")
    with pytest.raises(MotionFileError, match="junk.npz"):
        Motion.load_npz(junk)


def test_slice(motion):
    part = motion.slice(5, 12)
    assert part.num_frames == 7 and part.fps == motion.fps
    assert np.array_equal(part.rotations, motion.rotations[5:12])


def test_resample_keeps_shared_frames_and_duration(motion):
    up = motion.resample(60.0)
    assert up.num_frames == 61 and up.fps == 60.0
    assert up.duration == pytest.approx(motion.duration)
    assert np.allclose(quat.angle_between(up.rotations[::2], motion.rotations), 0.0, atol=1e-7)
    assert np.allclose(up.root_positions[::2], motion.root_positions)
    mid = quat.slerp(motion.rotations[3], motion.rotations[4], 0.5)
    assert np.allclose(quat.angle_between(up.rotations[7], mid), 0.0, atol=1e-7)
    assert np.allclose(up.root_positions[7], motion.root_positions[3:5].mean(axis=0))
    down = motion.resample(20.0)
    assert down.num_frames == 21  # 1 s at 20 fps
    assert np.allclose(down.root_positions[2], motion.root_positions[3])
    assert np.all(np.sum(up.rotations[1:] * up.rotations[:-1], axis=-1) >= 0)
    with pytest.raises(ValueError):
        motion.resample(-1)


def test_mirror_twice_is_identity(motion):
    twice = motion.mirror().mirror()
    assert np.array_equal(twice.rotations, motion.rotations)
    assert np.array_equal(twice.root_positions, motion.root_positions)


def test_mirror_reflects_world_positions(motion):
    """On the symmetric default skeleton, the mirrored pose is the reflection x → -x of the pose."""
    sk = motion.skeleton
    pos, _ = forward_kinematics(sk, motion.rotations, motion.root_positions)
    mirrored = motion.mirror()
    mpos, _ = forward_kinematics(sk, mirrored.rotations, mirrored.root_positions)
    assert np.allclose(mpos[:, sk.mirror_map()], pos * [-1, 1, 1], atol=1e-9)


def test_motion_package_imports_neither_torch_nor_bpy_nor_scipy():
    """backend.motion runs inside Blender's Python, which has numpy but no torch or scipy."""
    import subprocess
    import sys
    from pathlib import Path

    code = (
        "import sys; sys.modules['scipy'] = None; "  # any scipy import now fails loudly
        "import backend.motion.bvh, backend.motion.features, backend.motion.motion, "
        "backend.motion.retarget, backend.protocol; "
        "bad = [m for m in ('torch', 'bpy') if m in sys.modules]; assert not bad, bad"
    )
    repo = Path(__file__).resolve().parents[2]
    subprocess.run([sys.executable, "-c", code], cwd=repo, check=True, timeout=60)
