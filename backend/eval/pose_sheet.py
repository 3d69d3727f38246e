"""A still picture of a motion: the character drawn at a few moments, front and side views (PNG).

Why: a model card or a bug report needs to *show* the poses (hands in the gesture space, weight
shifts, rest poses) in one image that a reader can see without Blender or a video player.

``python -m backend.eval.pose_sheet MOTION.bvh|.npz OUT.png --times 2 4.5 7 --title TEXT``
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

from ..fileio import atomic_path
from ..motion.motion import Motion


def write_pose_sheet(motion: Motion, path: str | os.PathLike, times: list[float], *, title: str | None = None,
                     labels: list[str] | None = None, dpi: int = 90) -> Path:
    """Front (X-Y) and side (Z-Y) stick figures of ``motion`` at ``times`` seconds, in one row each."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pos = motion.world_positions()
    parents = motion.skeleton.parents
    frames = [min(motion.num_frames - 1, max(0, int(round(t * motion.fps)))) for t in times]
    names = motion.skeleton.names
    hands = [names.index(n) for n in ("RightHand", "LeftHand") if n in names]
    fig, axes = plt.subplots(2, len(frames), figsize=(2.2 * len(frames), 6.4), squeeze=False)
    lo, hi = pos[frames].min(axis=(0, 1)), pos[frames].max(axis=(0, 1))
    half = 0.55 * max(hi[1] - lo[1], 1.0)
    for col, f in enumerate(frames):
        for row, (axis, view) in enumerate(((0, "front"), (2, "side"))):
            ax = axes[row, col]
            p = pos[f]
            for j, parent in enumerate(parents):
                if parent >= 0:
                    thin = "Hand" in names[j] and names[j] not in ("RightHand", "LeftHand")
                    ax.plot([p[parent, axis], p[j, axis]], [p[parent, 1], p[j, 1]], color="0.55" if thin else "0.15",
                            linewidth=0.6 if thin else 2.0, solid_capstyle="round")
            ax.scatter(p[hands, axis], p[hands, 1], s=18, color="tab:red", zorder=3)
            centre = 0.5 * (lo[axis] + hi[axis])
            ax.set_xlim(centre - half * 0.75, centre + half * 0.75)
            ax.set_ylim(lo[1] - 5, lo[1] + 2 * half)
            ax.set_aspect("equal")
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(labels[col] if labels else f"{f / motion.fps:.1f} s", fontsize=9)
            if col == 0:
                ax.set_ylabel(view, fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("motion", type=Path, help=".bvh or .npz motion")
    parser.add_argument("out", type=Path, help="PNG to write")
    parser.add_argument("--times", type=float, nargs="+", default=[1.0, 3.0, 5.0, 7.0], help="seconds to draw")
    parser.add_argument("--title", default=None)
    args = parser.parse_args(argv)
    from .motion_stats import iter_motions

    motion = next(iter_motions(args.motion))
    print(write_pose_sheet(motion, args.out, args.times, title=args.title))
    return 0


if __name__ == "__main__":
    sys.exit(main())
