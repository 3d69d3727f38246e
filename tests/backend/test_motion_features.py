"""Pose features: layout, exact inverse after aligning the first frame, invariances, statistics."""

import numpy as np
import pytest
from motion_samples import smooth_motion

from backend.motion import quaternions as quat
from backend.motion.features import (
    FeatureStats,
    align_to_origin,
    features_to_motion,
    heading,
    motion_to_features,
    num_features,
)
from backend.motion.motion import Motion
from backend.motion.skeleton import default_skeleton, forward_kinematics


@pytest.fixture(scope="module")
def motion():
    return smooth_motion(default_skeleton(), frames=40, fps=30.0, seed=4, turn=5.0)


def test_layout(motion):
    f = motion_to_features(motion)
    assert f.shape == (40, num_features(motion.skeleton)) == (40, 6 * 75 + 4)
    assert f.dtype == np.float32
    j = 75
    assert np.allclose(f[:, 6 * j + 2], motion.root_positions[:, 1], atol=1e-4)  # height
    assert np.all(f[0, 6 * j :][[0, 1, 3]] == 0)  # no velocity at frame 0
    assert np.allclose(f[1:, 6 * 1 : 6 * j], quat.to_6d(motion.rotations[1:, 1:]).reshape(39, -1), atol=1e-6)
    speed = np.linalg.norm(np.diff(motion.root_positions[:, [0, 2]], axis=0), axis=-1) * 30
    assert np.allclose(np.linalg.norm(f[1:, [6 * j, 6 * j + 1]], axis=-1), speed, rtol=1e-5)


def test_inverse_is_exact_after_aligning_first_frame(motion):
    back = features_to_motion(motion_to_features(motion), motion.skeleton, motion.fps)
    ref = align_to_origin(motion)
    assert back.fps == motion.fps and back.num_frames == motion.num_frames
    assert np.max(quat.angle_between(back.rotations, ref.rotations)) < 1e-6
    assert np.allclose(back.root_positions, ref.root_positions, atol=1e-4)
    p_back, _ = forward_kinematics(back.skeleton, back.rotations, back.root_positions)
    p_ref, _ = forward_kinematics(ref.skeleton, ref.rotations, ref.root_positions)
    assert np.max(np.abs(p_back - p_ref)) < 1e-3  # cm, float32 features
    assert np.all(np.sum(back.rotations[1:] * back.rotations[:-1], axis=-1) >= 0)


def test_decoding_from_the_original_start_reproduces_the_original(motion):
    start_heading = heading(motion.rotations[:1, 0])[0]
    start_ground = tuple(motion.root_positions[0, [0, 2]])
    back = features_to_motion(motion_to_features(motion), motion.skeleton, motion.fps, start_ground, start_heading)
    assert np.max(quat.angle_between(back.rotations, motion.rotations)) < 1e-6
    assert np.allclose(back.root_positions, motion.root_positions, atol=1e-4)


def test_align_to_origin_moves_first_frame(motion):
    ref = align_to_origin(motion)
    assert np.allclose(ref.root_positions[0], [0.0, motion.root_positions[0, 1], 0.0])
    assert abs(heading(ref.rotations[:1, 0])[0]) < 1e-9
    # a rigid move: distances between frames are unchanged
    assert np.allclose(np.linalg.norm(np.diff(ref.root_positions, axis=0), axis=-1),
                       np.linalg.norm(np.diff(motion.root_positions, axis=0), axis=-1))


def test_features_ignore_where_the_character_stands_and_faces(motion):
    turn = quat.about_y(1.3)
    rot = motion.rotations.copy()
    rot[:, 0] = quat.multiply(turn, rot[:, 0])
    root = quat.rotate(turn, motion.root_positions) + [100.0, 0.0, -50.0]
    moved = Motion(motion.fps, motion.skeleton, rot, root)
    assert np.allclose(motion_to_features(moved), motion_to_features(motion), atol=1e-4)


def test_decoding_accepts_non_orthonormal_6d(motion):
    f = motion_to_features(motion).astype(np.float64)
    f[:, : 6 * 75] *= 1.5
    back = features_to_motion(f, motion.skeleton, motion.fps)
    assert np.allclose(np.linalg.norm(back.rotations, axis=-1), 1.0)
    with pytest.raises(ValueError, match="shape"):
        features_to_motion(f[:, :-1], motion.skeleton, motion.fps)


def test_feature_stats_normalise_and_round_trip(tmp_path, motion):
    f = motion_to_features(motion)
    stats = FeatureStats.from_features(f, std_floor=1e-2)
    z = stats.normalize(f)
    varying = f.std(axis=0) > 1e-2
    assert np.allclose(z.mean(axis=0), 0.0, atol=1e-4)
    assert np.allclose(z.std(axis=0)[varying], 1.0, atol=1e-4)
    assert np.all(stats.std >= 1e-2)
    assert np.allclose(stats.denormalize(z), f, atol=1e-4)
    stats.save(tmp_path / "stats.npz")
    back = FeatureStats.load(tmp_path / "stats.npz")
    assert np.array_equal(back.mean, stats.mean) and np.array_equal(back.std, stats.std)
    with pytest.raises(ValueError):
        FeatureStats(np.zeros(3), np.zeros(3))
