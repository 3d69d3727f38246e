"""The speech/motion check used for the demo model card: voiced frames and wrist speed ratio."""

import numpy as np

from backend.motion import quaternions as quat
from backend.motion.motion import Motion
from backend.motion.skeleton import default_skeleton
from backend.eval.demo_check import speech_motion_figures, voiced_frames, wrist_speed

RATE, FPS = 16000, 20.0


def speech_then_silence(seconds=4.0):
    """2 s of a loud 'syllable' pattern, then 2 s of faint noise."""
    t = np.arange(int(seconds * RATE)) / RATE
    wave = 0.3 * np.sin(2 * np.pi * 200 * t) * (np.sin(2 * np.pi * 4 * t) > -0.5)
    wave[t >= seconds / 2] = np.random.default_rng(0).normal(0, 1e-4, int((t >= seconds / 2).sum()))
    return wave.astype(np.float32)


def arm_motion(moving: np.ndarray) -> Motion:
    """The right forearm swings (3 Hz) where ``moving`` is True and holds still elsewhere."""
    skel = default_skeleton()
    frames = len(moving)
    rot = np.repeat(skel.rest_rotations[None], frames, axis=0).copy()
    phase = np.cumsum(moving) / FPS
    angle = 0.6 * np.sin(2 * np.pi * 3.0 * phase)
    j = skel.index("RightForeArm")
    rot[:, j] = quat.multiply(rot[:, j], quat.from_axis_angle(angle[:, None] * np.array([0.0, 1.0, 0.0])))
    return Motion(FPS, skel, rot, np.tile(skel.offsets[0], (frames, 1)))


def test_voiced_frames_follow_the_loud_part():
    wave = speech_then_silence()
    voiced = voiced_frames(wave, RATE, FPS, 80)
    assert voiced[:38].all()  # first 2 s (minus the hold margin at the boundary)
    assert not voiced[46:].any()  # silence after the 0.25 s hold


def test_wrist_speed_is_zero_when_still_and_positive_when_moving():
    moving = np.arange(80) < 40
    speed = wrist_speed(arm_motion(moving))
    assert speed.shape == (80,)
    assert speed[5:35].mean() > 20.0  # cm/s
    assert np.allclose(speed[45:], 0.0, atol=1e-6)


def test_ratio_separates_speech_following_from_anti_following():
    wave = speech_then_silence()
    follows = speech_motion_figures(arm_motion(np.arange(80) < 40), wave)
    opposes = speech_motion_figures(arm_motion(np.arange(80) >= 40), wave)
    assert follows["voiced_share"] == opposes["voiced_share"] and 0.45 < follows["voiced_share"] < 0.6
    assert follows["ratio"] > 10 and opposes["ratio"] < 0.2
    assert follows["wrist_speed_silent"] < 1.0
