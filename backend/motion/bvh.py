"""BVH read and write, exact on round trips.

``BvhData`` is the file as data: hierarchy, per-joint channel lists in file order, End Sites and
the raw channel values, so ``write_bvh(read_bvh(f))`` reproduces every number. Rotation channels
``Zrotation Yrotation Xrotation`` mean R = Rz · Ry · Rx (scipy intrinsic ``"ZYX"``); position
channels on any joint replace that joint's OFFSET for the frame (as Blender's importer reads them).

Conversion to a :class:`Motion` keeps only the JOINTs: End Sites carry no channels and are kept in
``BvhData.end_sites`` only (the ZEGGS layout already names its end joints explicitly).
Hand-written rather than a dependency: ~250 lines, and it needs line-accurate errors.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from ..errors import MotionFileError
from ..fileio import atomic_path
from . import quaternions as quat
from .motion import Motion
from .skeleton import Skeleton, forward_kinematics

_AXES = "XYZ"
_KINDS = ("position", "rotation")


def _parse_channel(name: str) -> tuple[str, int] | None:
    """('position'|'rotation', axis index) of a channel name such as ``Zrotation``."""
    lower = name.lower()
    if len(lower) < 2 or lower[0] not in "xyz" or lower[1:] not in _KINDS:
        return None
    return lower[1:], "xyz".index(lower[0])


@dataclass
class BvhData:
    """A BVH file: joints in file order (root first), their channels, End Sites and values (T, C)."""

    names: list[str]
    parents: np.ndarray
    offsets: np.ndarray
    channels: list[list[str]]
    frame_time: float
    values: np.ndarray
    end_sites: list[tuple[int, np.ndarray]] = field(default_factory=list)
    source: str = "BVH data"  # the file it came from, for error messages

    def __post_init__(self) -> None:
        self.parents = np.asarray(self.parents, dtype=np.int64)
        self.offsets = np.asarray(self.offsets, dtype=np.float64)
        self.values = np.asarray(self.values, dtype=np.float64).reshape(-1, self.num_channels)
        self.end_sites = [(int(j), np.asarray(o, dtype=np.float64)) for j, o in self.end_sites]

    @property
    def num_channels(self) -> int:
        return sum(len(c) for c in self.channels)

    @property
    def num_frames(self) -> int:
        return self.values.shape[0]

    @property
    def fps(self) -> float:
        """1 / frame time, snapped to the nearest integer when within 1e-4 relative (0.033333 → 30)."""
        fps = 1.0 / self.frame_time
        return float(round(fps)) if abs(fps - round(fps)) <= 1e-4 * fps else fps

    def _columns(self) -> list[int]:
        starts = np.cumsum([0] + [len(c) for c in self.channels])
        return [int(s) for s in starts[:-1]]

    def skeleton(self) -> Skeleton:
        """The JOINT hierarchy with rest OFFSETs and identity rest rotations."""
        return Skeleton(self.names, self.parents, self.offsets, quat.identity((len(self.names),)))

    def local_rotations(self) -> np.ndarray:
        """(T, J, 4) wxyz from each joint's rotation channels in file order (intrinsic)."""
        rot = quat.identity((self.num_frames, len(self.names)))
        for j, (start, chans) in enumerate(zip(self._columns(), self.channels)):
            parsed = [_parse_channel(c) for c in chans]
            cols = [start + k for k, p in enumerate(parsed) if p[0] == "rotation"]
            if cols:
                order = "".join(_AXES[p[1]] for p in parsed if p[0] == "rotation")
                rot[:, j] = quat.from_euler(self.values[:, cols], order, degrees=True)
        return rot

    def local_translations(self) -> np.ndarray:
        """(T, J, 3): OFFSETs, with each position channel replacing its axis for that frame."""
        trans = np.broadcast_to(self.offsets, (self.num_frames,) + self.offsets.shape).copy()
        for j, (start, chans) in enumerate(zip(self._columns(), self.channels)):
            for k, c in enumerate(chans):
                kind, axis = _parse_channel(c)
                if kind == "position":
                    trans[:, j, axis] = self.values[:, start + k]
        return trans

    def world_positions(self) -> np.ndarray:
        """(T, J, 3) joint positions by forward kinematics with the per-frame translations."""
        trans = self.local_translations()
        pos, _ = forward_kinematics(self.skeleton(), self.local_rotations(), trans[:, 0], offsets=trans)
        return pos

    def to_motion(self, source: str | None = None) -> Motion:
        """A :class:`Motion` of the JOINTs; the root position comes from its position channels.

        Non-root position channels become the skeleton's offsets, which must stay constant over
        the take (a ``Motion`` has rigid bones); otherwise MotionFileError naming ``source``
        (default: the file the data was read from).
        """
        trans = self.local_translations()
        offsets = self.offsets.copy()
        if self.num_frames:
            offsets[1:] = trans[0, 1:]
            scale = 1e-6 * (1.0 + np.abs(self.offsets).max())
            drift = np.abs(trans[:, 1:] - trans[:1, 1:]).max(axis=(0, 2))
            if np.any(drift > scale):
                j = 1 + int(np.argmax(drift))
                raise MotionFileError(
                    f"{source or self.source}: joint {self.names[j]!r} moves relative to its parent over the take "
                    f"(by up to {drift.max():.4g}); only the root may translate in a Motion"
                )
        skeleton = Skeleton(self.names, self.parents, offsets, quat.identity((len(self.names),)))
        return Motion(self.fps, skeleton, quat.make_continuous(self.local_rotations()), trans[:, 0])


def motion_to_bvh(motion: Motion, channel_order: str = "ZYX") -> BvhData:
    """BVH data for a motion: 6 channels on the root, 3 rotation channels elsewhere.

    ``channel_order`` is the intrinsic rotation order (``"ZYX"`` writes ``Zrotation Yrotation
    Xrotation``, as ZEGGS does). Leaf joints get a zero-length End Site.
    """
    order = channel_order.upper()
    if sorted(order) != list(_AXES):
        raise ValueError(f"channel order must be a permutation of XYZ, got {channel_order!r}")
    sk = motion.skeleton
    rot_names = [f"{a}rotation" for a in order]
    channels = [["Xposition", "Yposition", "Zposition"] + rot_names] + [list(rot_names) for _ in sk.names[1:]]
    euler = quat.to_euler(motion.rotations, order, degrees=True)
    values = np.concatenate([motion.root_positions, euler.reshape(motion.num_frames, -1)], axis=1)
    leaves = [j for j in range(sk.num_joints) if not np.any(sk.parents == j)]
    return BvhData(
        list(sk.names),
        sk.parents.copy(),
        sk.offsets.copy(),
        channels,
        1.0 / motion.fps,
        values,
        [(j, np.zeros(3)) for j in leaves],
    )


# --- writing -------------------------------------------------------------------------------


def _fmt(values, precision: int | None) -> str:
    if precision is None:
        return " ".join(repr(float(v)) for v in values)
    return " ".join(f"{float(v):.{precision}g}" for v in values)


def format_bvh(data: BvhData, precision: int | None = None) -> str:
    """BVH text; ``precision=None`` writes the shortest exact decimal of every float."""
    children: list[list[int]] = [[] for _ in data.names]
    for j in range(1, len(data.names)):
        children[data.parents[j]].append(j)
    ends: dict[int, list[np.ndarray]] = {}
    for j, off in data.end_sites:
        ends.setdefault(j, []).append(off)
    lines = ["HIERARCHY"]
    written: list[int] = []  # joints in the depth-first order the hierarchy is written in

    def emit(j: int, depth: int) -> None:
        written.append(j)
        pad = "\t" * depth
        lines.append(f"{pad}{'ROOT' if j == 0 else 'JOINT'} {data.names[j]}")
        lines.append(pad + "{")
        lines.append(f"{pad}\tOFFSET {_fmt(data.offsets[j], precision)}")
        lines.append(f"{pad}\tCHANNELS {len(data.channels[j])} {' '.join(data.channels[j])}".rstrip())
        for c in children[j]:
            emit(c, depth + 1)
        for off in ends.get(j, []):
            lines.extend([f"{pad}\tEnd Site", f"{pad}\t{{", f"{pad}\t\tOFFSET {_fmt(off, precision)}", f"{pad}\t}}"])
        lines.append(pad + "}")

    emit(0, 0)
    # MOTION columns follow the written hierarchy, which differs from the array order
    # whenever the joints are not stored depth-first.
    starts = data._columns()
    columns = [starts[j] + c for j in written for c in range(len(data.channels[j]))]
    lines += ["MOTION", f"Frames: {data.num_frames}", f"Frame Time: {repr(float(data.frame_time))}"]
    lines += [_fmt(row, precision) for row in data.values[:, columns].tolist()]
    return "\n".join(lines) + "\n"


def write_bvh(path: str | os.PathLike, data: BvhData | Motion, precision: int | None = None) -> None:
    """Write a BVH file atomically (a ``Motion`` is converted with :func:`motion_to_bvh`)."""
    if isinstance(data, Motion):
        data = motion_to_bvh(data)
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8", newline="\n") as f:
        f.write(format_bvh(data, precision))


# --- reading -------------------------------------------------------------------------------


class _Tokens:
    """Whitespace tokens of the HIERARCHY section with their 1-based line numbers."""

    def __init__(self, path: str, lines: list[str], stop: int):
        self.path = path
        self.items = [
            (tok, n + 1)
            for n, line in enumerate(lines[:stop])
            for tok in line.replace("{", " { ").replace("}", " } ").split()
        ]
        self.pos = 0
        self.end_line = stop

    def error(self, message: str, line: int | None = None) -> MotionFileError:
        if line is None:
            line = self.items[self.pos][1] if self.pos < len(self.items) else self.end_line
        return MotionFileError(f"{self.path}, line {line}: {message}")

    def next(self, what: str) -> tuple[str, int]:
        if self.pos >= len(self.items):
            raise self.error(f"file ends where {what} was expected")
        item = self.items[self.pos]
        self.pos += 1
        return item

    def expect(self, word: str) -> None:
        tok, line = self.next(repr(word))
        if tok.lower() != word.lower():
            raise self.error(f"expected {word!r}, found {tok!r}", line)

    def floats(self, count: int, what: str) -> np.ndarray:
        out = []
        for _ in range(count):
            tok, line = self.next(what)
            try:
                out.append(float(tok))
            except ValueError:
                raise self.error(f"{what} needs {count} numbers, found {tok!r}", line) from None
        return np.array(out)


def read_bvh(path: str | os.PathLike) -> BvhData:
    """Parse a BVH file; malformed input raises MotionFileError naming the file and line."""
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8-sig", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError as err:
        raise MotionFileError(f"{path}: cannot read BVH file ({err.strerror or err})") from err
    motion_at = next((n for n, line in enumerate(lines) if line.strip().upper() == "MOTION"), None)
    if motion_at is None:
        raise MotionFileError(f"{path}: no MOTION section (not a BVH file?)")
    toks = _Tokens(path, lines, motion_at)
    toks.expect("HIERARCHY")
    names: list[str] = []
    parents: list[int] = []
    offsets: list[np.ndarray] = []
    channels: list[list[str]] = []
    end_sites: list[tuple[int, np.ndarray]] = []

    def joint(parent: int, name_line: int) -> None:
        tok, line = toks.next("a joint name")
        words = [tok]
        while toks.pos < len(toks.items) and toks.items[toks.pos][1] == line and toks.items[toks.pos][0] != "{":
            words.append(toks.next("a joint name")[0])
        name = " ".join(words)
        if name in names:
            raise toks.error(f"joint name {name!r} appears twice", line)
        j = len(names)
        names.append(name)
        parents.append(parent)
        toks.expect("{")
        toks.expect("OFFSET")
        offsets.append(toks.floats(3, "OFFSET"))
        tok, line = toks.next("CHANNELS")
        if tok.upper() != "CHANNELS":
            raise toks.error(f"expected CHANNELS after the OFFSET of {name!r}, found {tok!r}", line)
        count_tok, line = toks.next("a channel count")
        if not count_tok.isdigit():
            raise toks.error(f"channel count must be a whole number, found {count_tok!r}", line)
        chans = []
        for _ in range(int(count_tok)):
            c, line = toks.next("a channel name")
            if _parse_channel(c) is None:
                raise toks.error(f"unknown channel {c!r} on joint {name!r}", line)
            chans.append(c)
        kinds = [_parse_channel(c) for c in chans]
        if len(set(kinds)) != len(kinds):
            raise toks.error(f"joint {name!r} repeats a channel", line)
        channels.append(chans)
        while True:
            tok, line = toks.next("JOINT, End Site or '}'")
            upper = tok.upper()
            if upper == "}":
                return
            if upper == "JOINT":
                joint(j, line)
            elif upper == "END":
                toks.expect("Site")
                while toks.pos < len(toks.items) and toks.items[toks.pos][0] != "{":
                    toks.pos += 1  # some exporters put a name after "End Site"
                toks.expect("{")
                toks.expect("OFFSET")
                end_sites.append((j, toks.floats(3, "End Site OFFSET")))
                toks.expect("}")
            else:
                raise toks.error(f"expected JOINT, End Site or '}}' inside {name!r}, found {tok!r}", line)

    tok, line = toks.next("ROOT")
    if tok.upper() != "ROOT":
        raise toks.error(f"expected ROOT, found {tok!r}", line)
    joint(-1, line)
    if toks.pos < len(toks.items):
        tok, line = toks.items[toks.pos]
        raise toks.error(f"unexpected {tok!r} after the root joint (only one ROOT is supported)", line)

    num_channels = sum(len(c) for c in channels)
    frames, frame_time, first = _motion_header(path, lines, motion_at)
    values = _motion_values(path, lines, first, frames, num_channels)
    return BvhData(names, np.array(parents), np.array(offsets), channels, frame_time, values, end_sites, path)


def _header_value(path: str, lines: list[str], n: int, label: str) -> str:
    if n >= len(lines) or not lines[n].strip().lower().startswith(label.lower()):
        raise MotionFileError(f"{path}, line {n + 1}: expected '{label}'")
    return lines[n].strip()[len(label):].strip()


def _motion_header(path: str, lines: list[str], motion_at: int) -> tuple[int, float, int]:
    n = motion_at + 1
    while n < len(lines) and not lines[n].strip():
        n += 1
    frames_text = _header_value(path, lines, n, "Frames:")
    if not frames_text.isdigit():
        raise MotionFileError(f"{path}, line {n + 1}: frame count must be a whole number, found {frames_text!r}")
    time_text = _header_value(path, lines, n + 1, "Frame Time:")
    try:
        frame_time = float(time_text)
    except ValueError:
        frame_time = float("nan")
    if not np.isfinite(frame_time) or frame_time <= 0:
        raise MotionFileError(f"{path}, line {n + 2}: frame time must be a positive number, found {time_text!r}")
    return int(frames_text), frame_time, n + 2


def _motion_values(path: str, lines: list[str], first: int, frames: int, num_channels: int) -> np.ndarray:
    rows = [(n, line.split()) for n, line in enumerate(lines[first:], start=first) if line.strip()]
    if len(rows) != frames:
        raise MotionFileError(f"{path}: header says {frames} frames but {len(rows)} frame lines follow")
    for n, toks in rows:
        if len(toks) != num_channels:
            raise MotionFileError(f"{path}, line {n + 1}: {len(toks)} values for {num_channels} channels")
    try:
        values = np.array([t for _, toks in rows for t in toks], dtype=np.float64)
    except ValueError:
        for n, toks in rows:
            try:
                np.array(toks, dtype=np.float64)
            except ValueError as err:
                raise MotionFileError(f"{path}, line {n + 1}: not a number ({err})") from None
        raise
    values = values.reshape(frames, num_channels)
    bad = np.nonzero(~np.all(np.isfinite(values), axis=1))[0]
    if bad.size:
        raise MotionFileError(f"{path}, line {rows[int(bad[0])][0] + 1}: NaN or infinite value")
    return values
