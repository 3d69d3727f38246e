"""Shared test data for the motion tests: smooth random motions and the fixture folder."""

from pathlib import Path

import numpy as np

from backend.motion import quaternions as quat
from backend.motion.motion import Motion


def fixtures_dir() -> Path | None:
    """../shared/fixtures next to the repository, or /work/shared/fixtures; None when absent."""
    repo = Path(__file__).resolve().parents[2]
    for candidate in (repo / ".." / "shared" / "fixtures", Path("/work/shared/fixtures")):
        if candidate.is_dir():
            return candidate.resolve()
    return None


def smooth_motion(skeleton, frames=40, fps=30.0, seed=0, turn=3.0) -> Motion:
    """Sines of random frequency/phase as axis-angle per joint, a walking and turning root."""
    rng = np.random.default_rng(seed)
    j = skeleton.num_joints
    t = np.linspace(0.0, 1.0, frames)[:, None, None]
    freq = rng.uniform(0.3, 1.5, (1, j, 3))
    phase = rng.uniform(0.0, 1.0, (1, j, 3))
    amp = rng.uniform(0.2, 1.2, (1, j, 3))
    rotvec = amp * np.sin(2 * np.pi * (freq * t + phase))
    rotvec[:, 0, 1] += np.linspace(0.0, turn, frames)
    root = np.stack(
        [np.linspace(5.0, 60.0, frames), 95.0 + 3.0 * np.sin(6.0 * t[:, 0, 0]), np.linspace(-20.0, 35.0, frames)],
        axis=-1,
    )
    return Motion(fps, skeleton, quat.make_continuous(quat.from_axis_angle(rotvec)), root)
