"""Atomic file and folder writes (stdlib only, so ``backend.motion`` and the add-on can use them).

Why: a crash or Ctrl+C mid-write must never leave a half-written BVH, motion, cache shard or
checkpoint where a reader would take it for a finished one.
"""

from __future__ import annotations

import os
import shutil
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

__all__ = ["atomic_path", "atomic_dir"]


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
