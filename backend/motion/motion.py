"""The ``Motion`` container: local joint rotations + root positions on a skeleton at a frame rate.

It is what the model produces, what the add-on keys onto a rig and what the corpus writes; it
saves to a pickle-free ``.npz`` with the skeleton stored as a JSON string.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

import numpy as np

from ..errors import MotionFileError
from ..fileio import atomic_path
from . import quaternions as quat
from .skeleton import Skeleton, forward_kinematics


@dataclass
class Motion:
    """``rotations`` (T, J, 4) local wxyz (rest rotation included), ``root_positions`` (T, 3) cm."""

    fps: float
    skeleton: Skeleton
    rotations: np.ndarray
    root_positions: np.ndarray

    def __post_init__(self) -> None:
        self.fps = float(self.fps)
        self.rotations = np.asarray(self.rotations, dtype=np.float64)
        self.root_positions = np.asarray(self.root_positions, dtype=np.float64)
        self.validate()

    @property
    def num_frames(self) -> int:
        return self.rotations.shape[0]

    @property
    def duration(self) -> float:
        """Seconds from the first to the last frame."""
        return max(self.num_frames - 1, 0) / self.fps

    def validate(self) -> None:
        """Raise ValueError naming the first inconsistency."""
        if not np.isfinite(self.fps) or self.fps <= 0:
            raise ValueError(f"motion frame rate must be positive, got {self.fps}")
        j = self.skeleton.num_joints
        if self.rotations.ndim != 3 or self.rotations.shape[1:] != (j, 4):
            raise ValueError(f"motion rotations must have shape (T, {j}, 4), got {self.rotations.shape}")
        if self.root_positions.shape != (self.rotations.shape[0], 3):
            raise ValueError(
                f"motion root positions must have shape ({self.rotations.shape[0]}, 3), got {self.root_positions.shape}"
            )
        if not (np.all(np.isfinite(self.rotations)) and np.all(np.isfinite(self.root_positions))):
            raise ValueError("motion contains NaN or infinite values")
        if self.num_frames and not np.allclose(np.linalg.norm(self.rotations, axis=-1), 1.0, atol=1e-4):
            raise ValueError("motion rotations must be unit quaternions (w, x, y, z)")

    def save_npz(self, path: str | os.PathLike) -> None:
        """Write ``fps``, ``rotations``, ``root_positions`` and ``skeleton`` (JSON) atomically."""
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            np.savez(
                f,
                fps=np.float64(self.fps),
                rotations=self.rotations,
                root_positions=self.root_positions,
                skeleton=np.array(json.dumps(self.skeleton.to_dict())),
            )

    @classmethod
    def load_npz(cls, path: str | os.PathLike) -> Motion:
        """Read a file written by :meth:`save_npz`; never unpickles."""
        path = os.fspath(path)
        try:
            with np.load(path, allow_pickle=False) as data:
                skeleton = Skeleton.from_dict(json.loads(str(data["skeleton"])))
                return cls(float(data["fps"]), skeleton, data["rotations"], data["root_positions"])
        except (OSError, KeyError, ValueError) as err:
            raise MotionFileError(f"{path}: not a readable motion file ({err})") from err

    def world_positions(self) -> np.ndarray:
        """World joint positions (T, J, 3) in cm, by forward kinematics."""
        return forward_kinematics(self.skeleton, self.rotations, self.root_positions)[0]

    def slice(self, start: int, stop: int | None = None) -> Motion:
        """Frames ``[start, stop)`` as a new motion (copies)."""
        return Motion(self.fps, self.skeleton, self.rotations[start:stop].copy(), self.root_positions[start:stop].copy())

    def resample(self, fps: float) -> Motion:
        """Same duration at another frame rate: slerp rotations, interpolate root linearly.

        New frames sit at ``k / fps`` for every such time within the original span.
        """
        fps = float(fps)
        if not np.isfinite(fps) or fps <= 0:
            raise ValueError(f"target frame rate must be positive, got {fps}")
        if self.num_frames < 2:
            return Motion(fps, self.skeleton, self.rotations.copy(), self.root_positions.copy())
        count = int(np.floor((self.num_frames - 1) * fps / self.fps + 1e-9)) + 1
        src = np.arange(count) * (self.fps / fps)
        lo = np.minimum(np.floor(src).astype(np.int64), self.num_frames - 2)
        t = src - lo
        rot = quat.slerp(self.rotations[lo], self.rotations[lo + 1], np.broadcast_to(t[:, None], (count, self.skeleton.num_joints)))
        root = self.root_positions[lo] * (1 - t[:, None]) + self.root_positions[lo + 1] * t[:, None]
        return Motion(fps, self.skeleton, quat.make_continuous(rot), root)

    def mirror(self) -> Motion:
        """Left/right swap for augmentation: reflect across the YZ plane (x → -x).

        A reflected rotation keeps w and x and negates y and z; paired joints trade places.
        Assumes a left/right symmetric skeleton (as the default one is).
        """
        pairs = self.skeleton.mirror_map()
        rot = self.rotations[:, pairs] * np.array([1.0, 1.0, -1.0, -1.0])
        root = self.root_positions * np.array([-1.0, 1.0, 1.0])
        return Motion(self.fps, self.skeleton, rot, root)
