"""Metrics on constructed cases whose right answer is known."""

import numpy as np
import pytest
import scipy.linalg

from backend.eval.beats import audio_onsets, beat_alignment, joint_speed, motion_beats
from backend.eval.metrics import (
    diversity,
    frechet_distance,
    frechet_distance_from_stats,
    kinematic_stats,
    match_events,
    mean_pairwise_l1,
    speed_peaks,
)


def test_frechet_identical_sets_is_zero():
    x = np.random.default_rng(0).normal(size=(500, 8))
    assert frechet_distance(x, x) == pytest.approx(0.0, abs=1e-9)


def test_frechet_identical_singular_sets_is_zero():
    # fewer samples than dimensions: singular covariance, where sqrtm(S1 @ S2) is unreliable
    x = np.random.default_rng(1).normal(size=(10, 40))
    assert frechet_distance(x, x) == pytest.approx(0.0, abs=1e-8)


def test_frechet_shifted_mean_is_squared_shift():
    x = np.random.default_rng(2).normal(size=(300, 6))
    shift = np.array([1.0, -2.0, 0.5, 0.0, 3.0, 0.25])
    assert frechet_distance(x, x + shift) == pytest.approx(float(shift @ shift), rel=1e-9)


def test_frechet_matches_closed_form_for_scaled_gaussians():
    # diagonal covariances: FD = |dmu|^2 + sum (s1 - s2)^2 in terms of standard deviations
    mu1, mu2 = np.zeros(3), np.array([1.0, 0.0, 0.0])
    s1, s2 = np.diag([1.0, 4.0, 9.0]), np.diag([4.0, 4.0, 1.0])
    expected = 1.0 + (1 - 2) ** 2 + (2 - 2) ** 2 + (3 - 1) ** 2
    assert frechet_distance_from_stats(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-12)


def test_frechet_agrees_with_sqrtm_reference_on_full_covariances():
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(400, 5)), rng.normal(size=(400, 5)) @ rng.normal(size=(5, 5)) + 0.3
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    reference = (mu1 - mu2) @ (mu1 - mu2) + np.trace(s1 + s2 - 2 * covmean)
    assert frechet_distance(a, b) == pytest.approx(reference, rel=1e-8)


def test_frechet_rejects_mismatched_dimensions():
    with pytest.raises(ValueError, match="mismatched"):
        frechet_distance(np.zeros((5, 3)) + np.arange(5)[:, None], np.ones((5, 4)) * np.arange(5)[:, None])


def _clicks(times, sr=16000, seconds=4.0):
    wave = np.zeros(int(sr * seconds))
    rng = np.random.default_rng(0)
    for t in times:
        start = int(t * sr)
        burst = rng.normal(size=400) * np.exp(-np.arange(400) / 80.0)
        wave[start : start + 400] += burst
    return wave + 1e-4 * rng.normal(size=wave.size)


def test_audio_onsets_find_clicks():
    truth = np.array([0.5, 1.2, 2.0, 2.7, 3.4])
    found = audio_onsets(_clicks(truth), 16000)
    assert len(found) == len(truth)
    assert np.max(np.abs(found - truth)) < 0.02


def _oscillating_wrist(minima_times, fps=20.0, seconds=4.0):
    """One joint moving along x with speed |sin| whose zeros sit at ``minima_times`` (period 0.8 s)."""
    t = np.arange(int(seconds * fps)) / fps
    phase = minima_times[0]
    x = -np.cos(np.pi * (t - phase) / 0.4) * 10.0  # speed ∝ |sin(pi (t - phase)/0.4)|: zeros every 0.4 s
    positions = np.zeros((t.size, 2, 3))
    positions[:, 1, 0] = x
    return positions


def test_motion_beats_are_speed_minima():
    fps = 20.0
    positions = _oscillating_wrist([0.3], fps)
    beats = motion_beats(positions, fps, smooth_frames=0)
    expected = 0.3 + 0.4 * np.arange(0, 9)
    expected = expected[expected < 4.0 - 0.1]
    assert len(beats) == len(expected)
    assert np.max(np.abs(beats - expected)) <= 0.5 / fps + 1e-9


def test_joint_speed_of_constant_velocity():
    positions = np.zeros((10, 3, 3))
    positions[:, :, 2] = np.arange(10)[:, None] * 2.0
    np.testing.assert_allclose(joint_speed(positions, fps=20), np.full(9, 40.0))


def test_beat_alignment_drops_when_beats_are_shifted():
    audio = np.array([0.5, 1.0, 1.5, 2.0, 2.5])
    assert beat_alignment(audio, audio) == pytest.approx(1.0)
    near = beat_alignment(audio + 0.05, audio)
    far = beat_alignment(audio + 0.2, audio)
    assert 1.0 > near > far > 0.0
    assert near == pytest.approx(np.exp(-(0.05**2) / (2 * 0.1**2)))
    assert np.isnan(beat_alignment(np.array([]), audio))


def test_beat_alignment_end_to_end_from_audio_and_motion():
    fps, sr = 20.0, 16000
    positions = _oscillating_wrist([0.3], fps)
    beats = motion_beats(positions, fps, smooth_frames=0)
    on_beat = audio_onsets(_clicks(0.3 + 0.4 * np.arange(0, 9)), sr)
    off_beat = audio_onsets(_clicks(0.5 + 0.4 * np.arange(0, 8)), sr)
    assert beat_alignment(beats, on_beat) > 0.9
    assert beat_alignment(beats, off_beat) < 0.3


def test_kinematic_stats_of_cubic_trajectory():
    fps, a = 20.0, 3.0
    t = np.arange(40) / fps
    positions = np.zeros((t.size, 1, 3))
    positions[:, 0, 1] = a * t**3  # jerk = 6a everywhere, acc = 6 a t
    stats = kinematic_stats(positions, fps)
    assert stats["jerk_mean"] == pytest.approx(6 * a, rel=1e-6)
    assert stats["jerk_p95"] == pytest.approx(6 * a, rel=1e-6)
    acc_centres = 6 * a * t[1:-1]  # second central difference is exact for a cubic
    assert stats["acc_mean"] == pytest.approx(acc_centres.mean(), rel=1e-6)
    assert stats["acc_p95"] == pytest.approx(np.percentile(acc_centres, 95), rel=1e-6)


def test_kinematic_stats_of_still_pose_is_zero():
    stats = kinematic_stats(np.ones((10, 4, 3)), 20.0)
    assert all(v == 0.0 for v in stats.values())


def test_diversity_of_identical_samples_is_zero():
    x = np.random.default_rng(0).normal(size=(30, 12))
    assert mean_pairwise_l1([x, x, x]) == 0.0
    d = diversity([[x, x], [x, x]])
    assert d == {"within": 0.0, "across": 0.0}


def test_diversity_known_values():
    a = np.zeros((10, 4))
    groups = [[a, a + 1.0, a + 3.0], [a + 2.0, a + 2.0]]
    d = diversity(groups)
    assert d["within"] == pytest.approx(((1 + 3 + 2) / 3 + 0.0) / 2)
    assert d["across"] == pytest.approx(2.0)


def test_match_events_precision_recall_and_error():
    truth = np.array([1.0, 2.0, 3.0, 4.0])
    detected = np.array([1.05, 2.1, 3.5, 5.0, 1.1])
    r = match_events(detected, truth, tolerance=0.15)
    assert r["matched"] == 2
    assert r["precision"] == pytest.approx(2 / 5)
    assert r["recall"] == pytest.approx(2 / 4)
    assert r["mean_abs_error"] == pytest.approx((0.05 + 0.1) / 2)
    assert r["f1"] == pytest.approx(2 * 0.4 * 0.5 / 0.9)


def test_speed_peaks_find_strokes_of_either_wrist():
    fps = 20.0
    t = np.arange(100) / fps
    strokes_right, strokes_left = [1.0, 3.0], [2.0]
    positions = np.zeros((t.size, 3, 3))
    for j, strokes in ((1, strokes_right), (2, strokes_left)):
        # a smooth step in x at each stroke time: the speed peaks exactly there
        positions[:, j, 0] = sum(20.0 / (1 + np.exp(-(t - s) / 0.08)) for s in strokes)
    found = speed_peaks(positions, fps, joints=[1, 2])
    r = match_events(found, np.array(strokes_right + strokes_left), tolerance=0.1)
    assert r["precision"] == 1.0 and r["recall"] == 1.0
    assert r["mean_abs_error"] <= 0.5 / fps + 1e-9
