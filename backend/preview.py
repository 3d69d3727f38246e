"""Stick-figure preview of a ``Motion`` (matplotlib), so a result can be watched without Blender.

Front view: the character faces +Z, so the image plane is world X (right) and Y (up). GIFs use
Pillow (always available with matplotlib); MP4 needs an ``ffmpeg`` executable on PATH.
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import DimGestureError
from .fileio import atomic_path
from .motion.motion import Motion

__all__ = ["write_preview"]

FORMATS = (".gif", ".mp4")


def write_preview(motion: Motion, path: str | os.PathLike, *, size: float = 4.0, dpi: int = 80, title: str | None = None) -> Path:
    """Draw every frame of ``motion`` as a stick figure into ``path`` (.gif or .mp4) at its frame rate."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import animation

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise DimGestureError(f"preview {path}: unsupported format {suffix or '(none)'}; use .gif or .mp4")
    if suffix == ".mp4" and not animation.writers.is_available("ffmpeg"):
        raise DimGestureError(f"preview {path}: writing MP4 needs ffmpeg on PATH (install it, or write a .gif instead)")
    if motion.num_frames == 0:
        raise DimGestureError(f"preview {path}: the motion has no frames")

    pos = motion.world_positions()
    xy = pos[..., [0, 1]]
    bones = [(j, p) for j, p in enumerate(motion.skeleton.parents) if p >= 0]
    lo, hi = xy.reshape(-1, 2).min(0), xy.reshape(-1, 2).max(0)
    centre, half = (lo + hi) / 2, max(float((hi - lo).max()) / 2, 1.0) * 1.1

    fig, ax = plt.subplots(figsize=(size, size), dpi=dpi)
    ax.set_xlim(centre[0] - half, centre[0] + half)
    ax.set_ylim(centre[1] - half, centre[1] + half)
    ax.set_aspect("equal")
    ax.set_axis_off()
    lines = [ax.plot([], [], color="tab:blue", lw=2, solid_capstyle="round")[0] for _ in bones]
    label = ax.text(0.02, 0.98, "", transform=ax.transAxes, va="top", fontsize=8)
    if title:
        ax.set_title(title, fontsize=9)

    def draw(t: int):
        for line, (j, p) in zip(lines, bones):
            line.set_data(xy[t, [p, j], 0], xy[t, [p, j], 1])
        label.set_text(f"{t / motion.fps:5.2f} s")
        return [*lines, label]

    anim = animation.FuncAnimation(fig, draw, frames=motion.num_frames, blit=True)
    writer = animation.PillowWriter(fps=motion.fps) if suffix == ".gif" else animation.FFMpegWriter(fps=motion.fps)
    try:
        with atomic_path(path) as tmp:
            anim.save(tmp, writer=writer)
    finally:
        plt.close(fig)
    return path
