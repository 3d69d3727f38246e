"""Model pose features and their exact inverse, plus normalisation statistics.

Per frame, ``F = 6*J + 4`` float32 values:
``[6D local rotation of every joint (J*6), root ground velocity x, z (cm/s, in the frame's
heading frame), root height y (cm), yaw rate (rad/s)]``. The root joint's rotation is stored
with its heading (yaw about +Y of its +Z forward axis) removed, so the features do not depend
on where the character stands or faces. Velocities and the yaw rate are backward differences:
frame 0 holds zeros, and decoding starts at ground position (0, 0) with heading 0, so
``features_to_motion(motion_to_features(m))`` equals ``m`` after moving and turning its first
frame's ground position and heading to the origin (see ``align_to_origin``), or equals ``m``
itself when decoded with its first frame's ground position and heading.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from ..fileio import atomic_path
from . import quaternions as quat
from .motion import Motion
from .skeleton import Skeleton

ROOT_FEATURES = 4


def num_features(skeleton: Skeleton) -> int:
    return 6 * skeleton.num_joints + ROOT_FEATURES


def heading(root_rotations: np.ndarray) -> np.ndarray:
    """Yaw angles (T,) in radians of the root's +Z axis projected on the ground."""
    forward = quat.rotate(root_rotations, np.array([0.0, 0.0, 1.0]))
    return np.arctan2(forward[..., 0], forward[..., 2])


def _wrap(angle: np.ndarray) -> np.ndarray:
    return (angle + np.pi) % (2 * np.pi) - np.pi


def motion_to_features(motion: Motion) -> np.ndarray:
    """(T, 6*J+4) float32 features of a motion (see the module docstring for the layout)."""
    rot = motion.rotations
    yaw = heading(rot[:, 0])
    yaw_q = quat.about_y(yaw)
    local = rot.copy()
    local[:, 0] = quat.multiply(quat.conjugate(yaw_q), rot[:, 0])
    pos = motion.root_positions
    step = np.zeros_like(pos)
    step[1:] = pos[1:] - pos[:-1]
    step_local = quat.rotate(quat.conjugate(yaw_q), step) * motion.fps
    yaw_rate = np.zeros(motion.num_frames)
    yaw_rate[1:] = _wrap(yaw[1:] - yaw[:-1]) * motion.fps
    root = np.stack([step_local[:, 0], step_local[:, 2], pos[:, 1], yaw_rate], axis=-1)
    six = quat.to_6d(local).reshape(motion.num_frames, -1)
    return np.concatenate([six, root], axis=-1).astype(np.float32)


def features_to_motion(
    features: np.ndarray,
    skeleton: Skeleton,
    fps: float,
    start_ground: tuple[float, float] = (0.0, 0.0),
    start_heading: float = 0.0,
) -> Motion:
    """Decode features into a motion whose frame 0 stands at ground (x, z) ``start_ground``
    facing ``start_heading`` (radians about +Y; 0 faces +Z).

    Rotations are re-orthonormalised from the 6D values (so model outputs need not be exact)
    and made sign-continuous over time.
    """
    features = np.asarray(features, dtype=np.float64)
    j = skeleton.num_joints
    if features.ndim != 2 or features.shape[1] != num_features(skeleton):
        raise ValueError(f"features must have shape (T, {num_features(skeleton)}) for {j} joints, got {features.shape}")
    frames = features.shape[0]
    # In slices of frames: from_6d's temporaries are ~25 KB a frame, gigabytes for a 2-hour clip at once.
    rot6 = features[:, : 6 * j].reshape(frames, j, 6)
    local = np.concatenate([quat.from_6d(part) for part in np.array_split(rot6, max(1, frames // 4096))])
    vx, vz, height, yaw_rate = features[:, 6 * j :].T
    yaw = start_heading + np.cumsum(np.concatenate([[0.0], yaw_rate[1:] / fps]))[:frames]
    yaw_q = quat.about_y(yaw)
    local[:, 0] = quat.multiply(yaw_q, local[:, 0])
    step = quat.rotate(yaw_q, np.stack([vx, np.zeros(frames), vz], axis=-1)) / fps
    step[:1] = 0.0
    ground = np.cumsum(step, axis=0) + [start_ground[0], 0.0, start_ground[1]]
    root = np.stack([ground[:, 0], height, ground[:, 2]], axis=-1)
    return Motion(fps, skeleton, quat.make_continuous(local), root)


def align_to_origin(motion: Motion) -> Motion:
    """The same motion moved and turned so frame 0 stands at ground (0, 0) with heading 0."""
    if motion.num_frames == 0:
        return motion
    turn = quat.about_y(-heading(motion.rotations[:1, 0]))[0]
    rot = motion.rotations.copy()
    rot[:, 0] = quat.multiply(turn, rot[:, 0])
    ground = motion.root_positions - motion.root_positions[0] * np.array([1.0, 0.0, 1.0])
    return Motion(motion.fps, motion.skeleton, rot, quat.rotate(turn, ground))


@dataclass
class FeatureStats:
    """Per-feature mean and std (floored, so constant features do not explode) for normalising."""

    mean: np.ndarray
    std: np.ndarray

    def __post_init__(self) -> None:
        self.mean = np.asarray(self.mean, dtype=np.float32).reshape(-1)
        self.std = np.asarray(self.std, dtype=np.float32).reshape(-1)
        if self.mean.shape != self.std.shape:
            raise ValueError(f"stats mean {self.mean.shape} and std {self.std.shape} differ in shape")
        if not (np.all(np.isfinite(self.mean)) and np.all(np.isfinite(self.std)) and np.all(self.std > 0)):
            raise ValueError("stats must be finite with a positive std")

    @classmethod
    def from_features(cls, features: np.ndarray, std_floor: float = 1e-2) -> FeatureStats:
        """Statistics over all frames of ``features`` (N, F), computed in float64."""
        x = np.asarray(features, dtype=np.float64).reshape(-1, np.shape(features)[-1])
        if x.shape[0] == 0:
            raise ValueError("cannot compute feature statistics from zero frames")
        return cls(x.mean(axis=0), np.maximum(x.std(axis=0), std_floor))

    def normalize(self, features: np.ndarray) -> np.ndarray:
        return ((np.asarray(features, dtype=np.float32) - self.mean) / self.std).astype(np.float32)

    def denormalize(self, features: np.ndarray) -> np.ndarray:
        return (np.asarray(features, dtype=np.float32) * self.std + self.mean).astype(np.float32)

    def save(self, path: str | os.PathLike) -> None:
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            np.savez(f, mean=self.mean, std=self.std)

    @classmethod
    def load(cls, path: str | os.PathLike) -> FeatureStats:
        with np.load(os.fspath(path), allow_pickle=False) as data:
            return cls(data["mean"], data["std"])
