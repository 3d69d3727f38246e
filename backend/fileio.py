"""Atomic file and folder writes (stdlib only, so ``backend.motion`` and the add-on can use them).

Why: a crash or Ctrl+C mid-write must never leave a half-written BVH, motion, cache shard or
checkpoint where a reader would take it for a finished one.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

__all__ = ["atomic_path", "atomic_dir", "unwritable_reason", "output_problems"]


def _sibling(path: Path, tag: str) -> Path:
    # the original suffix stays last, so writers that pick a format by extension (numpy, PIL,
    # soundfile) write the right one and do not append their own
    return path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex}.{tag}{path.suffix}")


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path`` in one rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _sibling(path, "tmp")
    try:
        yield tmp
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # some writers (safetensors) create owner-only files
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary folder beside ``path``; on success it takes the place of ``path``."""
    path = Path(path)
    tmp = _sibling(path, "tmp")
    old = _sibling(path, "old")
    tmp.mkdir(parents=True)
    try:
        yield tmp
        if path.exists():
            os.replace(path, old)
        os.replace(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)


def unwritable_reason(path: str | os.PathLike) -> str | None:
    """Why a file cannot be written at ``path`` (None: it can), asked before long work so that a bad
    output is reported at once, not after minutes of generation.

    Missing folders are fine (writers create them) if the nearest existing one takes a new entry;
    that is tried for real (a probe file, removed at once), since permission bits do not tell for
    root or for read-only mounts.
    """
    path = Path(path)
    if path.is_dir():
        return f"{path}: is a folder, not a file name"
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        return f"{path}: cannot be created, because {folder} is a file, not a folder"
    try:
        fd, probe = tempfile.mkstemp(prefix=".dimgesture-probe-", dir=folder)
    except OSError as err:
        return f"{path}: the folder {folder} cannot be written to ({err.strerror or err})"
    os.close(fd)
    os.unlink(probe)
    return None


def output_problems(paths: list[str | os.PathLike], overwrite: bool) -> list[str]:
    """Why these outputs must not be written: unwritable places, and (without ``overwrite``) files that
    already exist, which a command must never replace unless told to (the user's other takes)."""
    paths = [Path(p) for p in paths]
    problems = [reason for reason in map(unwritable_reason, paths) if reason]
    existing = [str(p) for p in paths if p.is_file()]
    if existing and not overwrite:
        problems.append(f"{', '.join(existing)}: already exist{'s' if len(existing) == 1 else ''}; nothing was written "
                        "(pass --overwrite to replace, or choose another output name)")
    return problems

