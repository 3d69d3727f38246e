"""Output smoothing (jerk down, beats kept) and the pose-sheet picture."""

import numpy as np
import pytest

from backend.eval.metrics import kinematic_stats
from backend.eval.pose_sheet import write_pose_sheet
from backend.model.config import OutputConfig
from backend.motion import quaternions as quat
from backend.motion.motion import Motion
from backend.motion.skeleton import default_skeleton
from backend.motion.smoothing import smooth_features
from model_samples import perturb

FPS = 20.0


def test_cubic_motion_passes_unchanged_and_noise_is_removed():
    t = np.arange(200) / FPS
    cubic = np.stack([t**3 - 2 * t, 0.5 * t**2], -1)
    assert np.allclose(smooth_features(cubic, FPS, 0.45), cubic, atol=1e-9)
    rng = np.random.default_rng(0)
    slow = np.sin(2 * np.pi * 0.8 * t)[:, None]
    noisy = slow + rng.normal(0.0, 0.05, slow.shape)
    smoothed = smooth_features(noisy, FPS, 0.45)
    jerk = lambda x: np.abs(np.diff(x, 3, axis=0)).mean()  # noqa: E731
    assert jerk(smoothed) < 0.2 * jerk(noisy)
    assert np.abs(smoothed - slow).mean() < 0.75 * np.abs(noisy - slow).mean()


def test_speed_minima_stay_in_place():
    t = np.arange(120) / FPS
    beats = np.cos(2 * np.pi * 1.5 * t)[:, None]  # speed minima at the extremes, every 1/3 s
    smoothed = smooth_features(beats + np.random.default_rng(1).normal(0, 0.02, beats.shape), FPS, 0.35)
    speed = np.abs(np.gradient(smoothed[:, 0]))
    minima = [i for i in range(1, 119) if speed[i] <= speed[i - 1] and speed[i] <= speed[i + 1] and abs(smoothed[i, 0]) > 0.8]
    truth = np.arange(0, 6, 1 / 3) * FPS  # cos extremes
    for m in minima:
        assert np.min(np.abs(truth - m)) <= 1.0, "a beat moved by more than one frame"


def test_off_short_clips_and_config_check():
    x = np.random.default_rng(2).normal(size=(3, 4))
    assert np.array_equal(smooth_features(x, FPS, 0.0), x)
    assert np.array_equal(smooth_features(x, FPS, 1.0), x), "too short to filter: unchanged"
    assert smooth_features(np.ones((9, 2)), FPS, 2.0).shape == (9, 2), "window shortened to the clip"
    with pytest.raises(ValueError, match="smooth_seconds"):
        OutputConfig(smooth_seconds=-1.0).validate()


def test_smoothing_lowers_the_jerk_of_joint_positions():
    skel = default_skeleton()
    frames = 100
    rng = np.random.default_rng(3)
    rotvec = np.cumsum(rng.normal(0, 0.02, (frames, skel.num_joints, 3)), axis=0)
    rotvec += rng.normal(0, 0.01, rotvec.shape)
    motion = Motion(FPS, skel, quat.from_axis_angle(rotvec), np.tile(skel.offsets[0], (frames, 1)))
    from backend.motion.features import features_to_motion, motion_to_features

    feats = motion_to_features(motion)
    smooth = features_to_motion(smooth_features(feats, FPS, 0.45), skel, FPS)
    before = kinematic_stats(motion.world_positions(), FPS)["jerk_mean"]
    after = kinematic_stats(smooth.world_positions(), FPS)["jerk_mean"]
    assert after < 0.5 * before


def test_pose_sheet_writes_a_png(tmp_path):
    skel = default_skeleton()
    frames = 60
    rot = quat.identity((frames, skel.num_joints))
    angle = np.linspace(0, 1.2, frames)
    rot[:, skel.index("RightArm")] = quat.from_axis_angle(angle[:, None] * np.array([0.0, 0.0, 1.0]))
    motion = Motion(FPS, skel, rot, np.tile(skel.offsets[0], (frames, 1)))
    out = write_pose_sheet(motion, tmp_path / "sheet.png", [0.0, 1.0, 2.9], title="test")
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000


@pytest.mark.parametrize("frames, window", [(40, 5), (41, 7), (200, 5), (9, 9)])
def test_numpy_savgol_equals_scipy(frames, window):
    from scipy.signal import savgol_filter

    from backend.motion.smoothing import POLYORDER, savgol

    x = np.random.default_rng(frames).normal(size=(frames, 6)).cumsum(axis=0)
    np.testing.assert_allclose(savgol(x, window, POLYORDER), savgol_filter(x, window, POLYORDER, axis=0, mode="interp"),
                               rtol=1e-9, atol=1e-9)


def test_batched_generation_applies_the_checkpoints_smoothing():
    """The batch runner smooths as the single-clip path does (``output.smooth_seconds``)."""

    from backend.batching import ClipRequest, generate_batch
    from backend.model.config import preset
    from backend.pipeline import GesturePipeline

    pipe = GesturePipeline.from_config(preset("tiny"), seed=0)
    perturb(pipe.model)
    t = np.arange(32000) / 16000
    request = ClipRequest((0.3 * np.sin(2 * np.pi * 180 * t)).astype(np.float32), seed=3)

    def jerk(smooth_seconds: float) -> float:
        pipe.output.smooth_seconds = smooth_seconds
        positions = generate_batch(pipe, [request], steps=2)[0].world_positions()
        return float(np.abs(np.diff(positions, 3, axis=0)).mean())

    assert jerk(1.0) < 0.7 * jerk(0.0)  # without smoothing the two are equal
