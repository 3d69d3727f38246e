"""Where ``dimgesture generate`` writes: output file names per clip, the refusal check, and the writing itself.

Why a module of its own: single-clip runs (``generate``) and batch runs (``batch_run``) name and
write their outputs the same way, and neither should import the other for it.
"""

from __future__ import annotations

from pathlib import Path

from .errors import DimGestureError
from .fileio import output_problems

__all__ = ["formats_for", "file_outputs", "clip_outputs", "output_paths", "preview_paths", "check_outputs", "write_outputs"]


def formats_for(fmt: str | None) -> list[str]:
    """The file extensions a ``--format`` choice means (default bvh)."""
    fmt = fmt or "bvh"
    return ["bvh", "npz"] if fmt == "both" else [fmt]


def file_outputs(output: Path, fmt: str | None) -> list[Path]:
    """The files for an output named ``*.bvh``/``*.npz``: the name exactly as given for its own format, and only
    its last suffix swapped for the other format (``talk.v2.bvh`` → ``talk.v2.npz``)."""
    asked = output.suffix.lower()[1:]
    fmt = fmt or asked
    if fmt not in (asked, "both"):
        raise DimGestureError(f"-o {output}: the name ends in .{asked} but --format {fmt} was asked for; "
                              f"name the file .{fmt}, or use --format both")
    return [output if f == asked else output.with_suffix(f".{f}") for f in formats_for(fmt)]


def clip_outputs(target: Path, stem: str, fmt: str | None) -> list[Path]:
    """The files of one clip: ``target`` itself when it is a ``.bvh``/``.npz`` name, else ``<stem>.<format>`` in it."""
    if target.suffix.lower() in (".bvh", ".npz"):
        return file_outputs(target, fmt)
    return [target / f"{stem}.{f}" for f in formats_for(fmt)]


def output_paths(audio: list[Path], output: Path, fmt: str | None) -> list[list[Path]]:
    """For each clip, the files to write; raises ``DimGestureError`` for ambiguous requests."""
    if output.suffix.lower() in (".bvh", ".npz"):
        if len(audio) != 1:
            raise DimGestureError(f"-o {output}: a file name works for one clip only; give a folder for {len(audio)} clips")
    else:
        if output.suffix and output.exists() and not output.is_dir():
            raise DimGestureError(f"-o {output}: exists and is not a folder")
        stems = [p.stem for p in audio]
        clashes = sorted({s for s in stems if stems.count(s) > 1})
        if clashes:
            raise DimGestureError(f"several clips are named {', '.join(clashes)}: their outputs would overwrite each other")
    return [clip_outputs(output, p.stem, fmt) for p in audio]


def preview_paths(audio: list[Path], preview: Path) -> list[Path]:
    """One preview file per clip: ``preview`` itself for one clip, else suffixed with each clip's name."""
    if len(audio) == 1:
        return [preview]
    return [preview.with_name(f"{preview.stem}-{p.stem}{preview.suffix}") for p in audio]


def check_outputs(paths: list[Path], overwrite: bool) -> None:
    """Refuse, before any model time is spent, outputs that cannot be written or that exist (without ``overwrite``)."""
    problems = output_problems(paths, overwrite)
    if problems:
        raise DimGestureError(" ".join(problems))


def write_outputs(motion, paths: list[Path]) -> None:
    """Write ``motion`` to each path, BVH or NPZ by extension (atomically: a crash leaves no partial file)."""
    from .motion.bvh import write_bvh

    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix.lower() == ".bvh":
            write_bvh(path, motion)
        else:
            motion.save_npz(path)
