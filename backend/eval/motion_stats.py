"""``dimgesture motion-stats``: how a motion compares with real speech-gesture mocap.

Why: a model follows its corpus, so the corpus (and every model trained on it) is checked
against a few body-size-free figures of real conversational gesture: where the hands are
(height above the hips, spread sideways / up-down / forward), how fast they move, and whether
the head and hips move at all. Every figure is in units of the character's *standing head
height* (the head joint's height above the lowest joint in the rest pose) and per second, on
motion resampled to 20 fps, so any skeleton and frame rate can be compared.

The reference column (``REAL``) is real speech-gesture motion capture of a standing actor talking
(68.8 s), measured the same way (issue 16). ``python -m backend.eval.motion_stats PATH...`` or
``dimgesture motion-stats PATH...`` accepts BVH / NPZ files, folders of them (recursive), and
prepared dataset caches (``--split`` picks train or val takes).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DimGestureError
from ..motion import quaternions as quat
from ..motion.motion import Motion
from ..motion.skeleton import Skeleton, rest_positions

FPS = 20.0
HANDS = ("RightHand", "LeftHand")
HEAD, HIPS = "Head", "Hips"

# statistic -> (label, real speech-gesture mocap value, unit)
ROWS: dict[str, tuple[str, float, str]] = {
    "hand_height": ("mean hand height above the hips", 0.21, ""),
    "hand_lateral_std": ("hand lateral spread (std)", 0.079, ""),
    "hand_vertical_std": ("hand vertical spread (std)", 0.127, ""),
    "hand_forward_std": ("hand forward spread (std)", 0.096, ""),
    "hand_speed_p90": ("hand speed, 90th percentile", 0.83, "/s"),
    "hand_speed_median": ("hand speed, median", 0.23, "/s"),
    "head_speed_median": ("head speed, median", 0.087, "/s"),
    "hip_speed_median": ("hip speed, median (weight shifts, sway)", 0.058, "/s"),
}
REAL = {key: value for key, (_, value, _) in ROWS.items()}
TOLERANCE = 0.25  # the corpus and the demo model must land within ±25 % of REAL


class MotionStatsError(DimGestureError):
    """A file or folder that cannot be measured; the message names it."""

    kind = "motion-stats"


def head_height(skeleton: Skeleton) -> float:
    """Standing head height (cm): the head joint above the lowest joint of the rest pose."""
    rest = rest_positions(skeleton)
    return float(rest[skeleton.index(HEAD), 1] - rest[:, 1].min())


@dataclass
class Samples:
    """Per-frame quantities of one or more motions, pooled before the statistics are taken."""

    hand_offsets: list[np.ndarray]  # (T, 2, 3): hands relative to the hips, body frame (x side, y up, z forward)
    hand_speed: list[np.ndarray]  # (T-1, 2)
    head_speed: list[np.ndarray]  # (T-1,)
    hip_speed: list[np.ndarray]  # (T-1,)
    seconds: float = 0.0


def _speed(positions: np.ndarray, fps: float) -> np.ndarray:
    return np.linalg.norm(np.diff(positions, axis=0), axis=-1) * fps


def measure_into(samples: Samples, motion: Motion) -> None:
    """Add one motion's frames (resampled to 20 fps, scaled to unit head height) to ``samples``."""
    skeleton = motion.skeleton
    try:
        hands = [skeleton.index(n) for n in HANDS]
        head, hips = skeleton.index(HEAD), skeleton.index(HIPS)
    except KeyError as err:
        raise MotionStatsError(f"skeleton lacks a joint the statistics need: {err.args[0]}") from None
    if motion.num_frames < 2:
        raise MotionStatsError(f"motion has {motion.num_frames} frame(s); at least 2 are needed")
    if abs(motion.fps - FPS) > 1e-6:
        motion = motion.resample(FPS)
    pos = motion.world_positions() / head_height(skeleton)
    # the body frame: the root's heading (yaw only), so turning in place does not count as spread
    forward = quat.rotate(motion.rotations[:, 0], np.array([0.0, 0.0, 1.0]))
    yaw = np.arctan2(forward[:, 0], forward[:, 2])
    to_body = quat.about_y(-yaw)
    offsets = pos[:, hands] - pos[:, hips, None]
    samples.hand_offsets.append(quat.rotate(to_body[:, None], offsets))
    samples.hand_speed.append(np.stack([_speed(pos[:, h], FPS) for h in hands], axis=-1))
    samples.head_speed.append(_speed(pos[:, head], FPS))
    samples.hip_speed.append(_speed(pos[:, hips], FPS))
    samples.seconds += motion.duration


def statistics(samples: Samples) -> dict[str, float]:
    """The table's figures from pooled samples (spreads: std over time, mean of the two hands)."""
    if not samples.hand_offsets:
        raise MotionStatsError("no motion to measure")
    off = np.concatenate(samples.hand_offsets)  # (T, 2, 3)
    hand_speed = np.concatenate(samples.hand_speed).ravel()
    # spread within each take, so that takes differing in where they stand do not add up
    weights = np.array([len(o) for o in samples.hand_offsets], dtype=np.float64)
    std = np.average([o.std(axis=0).mean(axis=0) for o in samples.hand_offsets], axis=0, weights=weights)
    return {
        "hand_height": float(off[..., 1].mean()),
        "hand_lateral_std": float(std[0]),
        "hand_vertical_std": float(std[1]),
        "hand_forward_std": float(std[2]),
        "hand_speed_p90": float(np.percentile(hand_speed, 90)),
        "hand_speed_median": float(np.median(hand_speed)),
        "head_speed_median": float(np.median(np.concatenate(samples.head_speed))),
        "hip_speed_median": float(np.median(np.concatenate(samples.hip_speed))),
    }


def motion_statistics(motions) -> dict[str, float]:
    """The table's figures for an iterable of ``Motion`` (pooled), and ``seconds``: how much was measured."""
    samples = Samples([], [], [], [])
    for motion in motions:
        measure_into(samples, motion)
    return statistics(samples) | {"seconds": samples.seconds}


def within_tolerance(stats: dict[str, float], tolerance: float = TOLERANCE) -> dict[str, bool]:
    """Per row: is the figure within ``tolerance`` (relative) of the real mocap value?"""
    return {key: abs(stats[key] / REAL[key] - 1.0) <= tolerance for key in ROWS}


def format_table(columns: dict[str, dict[str, float]], tolerance: float = TOLERANCE) -> str:
    """Markdown table: real column, then each measured column with its ratio to real (``*`` outside tolerance)."""
    head = ["statistic (both hands unless said)", "real mocap"]
    for name in columns:
        head += [name, "ratio"]
    lines = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
    for key, (label, real, unit) in ROWS.items():
        cells = [label, f"{real:.3g}{unit}"]
        for stats in columns.values():
            ratio = stats[key] / real
            mark = "" if abs(ratio - 1.0) <= tolerance else " *"
            cells += [f"{stats[key]:.3f}{unit}", f"{ratio:.2f}{mark}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


# ---- inputs: motion files, folders, caches ------------------------------------------------

def _load_file(path: Path) -> Motion:
    if path.suffix.lower() == ".bvh":
        from ..motion.bvh import read_bvh

        return read_bvh(path).to_motion(source=str(path))
    if path.suffix.lower() == ".npz":
        return Motion.load_npz(path)
    raise MotionStatsError(f"{path}: not a .bvh or .npz motion file")


def _cache_motions(cache: Path, split: str | None):
    from ..data.dataset import read_manifest
    from ..motion.features import features_to_motion

    manifest = read_manifest(cache)
    skeleton = Skeleton.from_dict(manifest["skeleton"])
    shards: dict[int, np.ndarray] = {}
    for take in manifest["takes"]:
        if split and take["split"] != split:
            continue
        shard = take["shard"]
        if shard not in shards:
            shards[shard] = np.load(cache / f"motion-{shard:05d}.npy", mmap_mode="r")
        feats = shards[shard][take["motion_start"] : take["motion_start"] + take["motion_frames"]]
        yield features_to_motion(np.asarray(feats), skeleton, manifest["fps"])


def iter_motions(path: Path, split: str | None = None, limit: int | None = None):
    """Motions of a file, a folder of .bvh/.npz (recursive, sorted) or a prepared cache."""
    path = Path(path)
    if not path.exists():
        raise MotionStatsError(f"{path}: no such file or folder")
    if path.is_dir() and (path / "manifest.json").exists():
        source = _cache_motions(path, split)
    elif path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.suffix.lower() in (".bvh", ".npz"))
        if not files:
            raise MotionStatsError(f"{path}: no .bvh or .npz files in this folder")
        source = (_load_file(p) for p in files)
    else:
        source = iter([_load_file(path)])
    for count, motion in enumerate(source):
        if limit is not None and count >= limit:
            return
        yield motion


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", type=Path,
                        help="motion files (.bvh/.npz), folders of them, or prepared caches; each is one column")
    parser.add_argument("--split", choices=("train", "val"), default=None, help="for caches: only this split")
    parser.add_argument("--limit", type=int, default=None, help="measure at most this many takes per path")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this JSON file")


def run(args: argparse.Namespace) -> int:
    columns: dict[str, dict[str, float]] = {}
    for path in args.paths:
        columns[path.name or str(path)] = motion_statistics(iter_motions(path, args.split, args.limit))
    print(format_table(columns))
    outside = {name: [k for k, ok in within_tolerance(s).items() if not ok] for name, s in columns.items()}
    for name, keys in outside.items():
        verdict = "all rows within ±25 % of real" if not keys else f"outside ±25 %: {', '.join(keys)}"
        print(f"{name}: {columns[name]['seconds']:.1f} s measured; {verdict}")
    if args.json:
        args.json.write_text(json.dumps(columns, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    import sys

    parser = argparse.ArgumentParser(prog="motion-stats", description=__doc__.splitlines()[0])
    add_arguments(parser)
    sys.exit(run(parser.parse_args()))
