"""Checkpoint file helpers: atomic writes, JSON and safetensors reading with clear errors.

Why: a checkpoint is read by the server, the trainer and the CLI; each must get a
``CheckpointError`` naming the file and the problem (missing, truncated, wrong shapes),
never a half-written file after a crash, and never an unpickled object.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from backend.errors import CheckpointError
from backend.fileio import atomic_dir, atomic_path

__all__ = ["atomic_path", "atomic_dir", "write_json", "read_json", "save_tensors", "load_tensors"]


def write_json(path: str | Path, data: Any) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def read_json(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: file not found")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CheckpointError(f"{path}: not valid JSON ({err})") from None
    if not isinstance(data, dict):
        raise CheckpointError(f"{path}: expected a JSON object, got {type(data).__name__}")
    return data


def save_tensors(path: str | Path, tensors: Mapping[str, torch.Tensor], metadata: dict[str, str] | None = None) -> None:
    """Write tensors as safetensors, atomically (contiguous CPU copies, shared storage split)."""
    plain = {name: t.detach().to("cpu").contiguous().clone() for name, t in tensors.items()}
    with atomic_path(path) as tmp:
        save_file(plain, str(tmp), metadata=metadata)


def load_tensors(path: str | Path, expected: Mapping[str, tuple[int, ...]] | None = None) -> dict[str, torch.Tensor]:
    """Read a safetensors file (no pickle); with ``expected``, names and shapes must match exactly."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: file not found")
    try:
        tensors = load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError) as err:
        raise CheckpointError(f"{path}: not a readable safetensors file (truncated or corrupt: {err})") from None
    if expected is not None:
        problems = []
        missing = sorted(set(expected) - set(tensors))
        unexpected = sorted(set(tensors) - set(expected))
        if missing:
            problems.append(f"missing {_names(missing)}")
        if unexpected:
            problems.append(f"unexpected {_names(unexpected)}")
        for name in sorted(set(expected) & set(tensors)):
            if tuple(tensors[name].shape) != tuple(expected[name]):
                problems.append(f"{name} has shape {tuple(tensors[name].shape)}, expected {tuple(expected[name])}")
        if problems:
            raise CheckpointError(f"{path}: does not match the model config: " + "; ".join(problems[:5]))
    for name, tensor in tensors.items():
        if tensor.is_floating_point() and not torch.isfinite(tensor).all():
            raise CheckpointError(f"{path}: tensor {name} contains NaN or infinite values")
    return tensors


def _names(names: list[str], limit: int = 5) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")
