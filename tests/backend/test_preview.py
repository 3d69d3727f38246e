import numpy as np
import pytest
from PIL import Image

from backend.errors import DimGestureError
from backend.motion import quaternions as quat
from backend.motion.motion import Motion
from backend.motion.skeleton import default_skeleton
from backend.preview import write_preview


def _waving_motion(frames: int = 7, fps: float = 10.0) -> Motion:
    skel = default_skeleton()
    rot = np.repeat(skel.rest_rotations[None], frames, axis=0).copy()
    arm = skel.index("RightArm")
    angles = np.linspace(0.0, 1.2, frames)
    rot[:, arm] = quat.multiply(rot[:, arm], quat.from_axis_angle(angles[:, None] * np.array([0.0, 0.0, 1.0])))
    root = np.tile(skel.offsets[0], (frames, 1))
    return Motion(fps=fps, skeleton=skel, rotations=rot, root_positions=root)


def test_world_positions_follow_the_rotated_arm():
    motion = _waving_motion()
    pos = motion.world_positions()
    hand = motion.skeleton.index("RightHand")
    assert pos.shape == (7, motion.skeleton.num_joints, 3)
    assert np.linalg.norm(pos[-1, hand] - pos[0, hand]) > 5.0  # the hand moved (cm)
    assert np.allclose(pos[:, 0], motion.root_positions)


def test_gif_has_one_frame_per_motion_frame(tmp_path):
    motion = _waving_motion(frames=7, fps=10.0)
    out = write_preview(motion, tmp_path / "sub" / "preview.gif", size=2.0, dpi=40)
    with Image.open(out) as gif:
        assert gif.n_frames == 7
        assert gif.info["duration"] == pytest.approx(100, abs=10)
    assert not list(out.parent.glob(".*tmp*"))


def test_unsupported_format_is_a_clear_error(tmp_path):
    with pytest.raises(DimGestureError, match=r"preview\.avi.*unsupported format"):
        write_preview(_waving_motion(), tmp_path / "preview.avi")


def test_mp4_without_ffmpeg_names_the_missing_tool(tmp_path, monkeypatch):
    from matplotlib import animation

    monkeypatch.setattr(animation.writers, "is_available", lambda name: False)
    with pytest.raises(DimGestureError, match="ffmpeg"):
        write_preview(_waving_motion(), tmp_path / "preview.mp4")
