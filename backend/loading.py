"""Where a pipeline comes from: the default checkpoint folder and the device it runs on.

Why one place: the CLI, the server, eval and bench all load a checkpoint; they must agree on the
default (the bundled demo), on what "auto" means, and on the error a missing model gives.
``GesturePipeline.from_pretrained`` uses both functions; nothing here imports torch up front.
"""

from __future__ import annotations

from pathlib import Path

from .errors import CheckpointError, DimGestureError

__all__ = ["default_checkpoint", "checkpoint_folder", "resolve_device"]


def default_checkpoint() -> Path:
    """The demo checkpoint bundled with the repository (``checkpoints/demo``)."""
    return Path(__file__).resolve().parent.parent / "checkpoints" / "demo"


def checkpoint_folder(folder: str | Path | None) -> Path:
    """``folder`` (or the default checkpoint for None), checked to exist; the files are checked on reading."""
    path = Path(folder) if folder is not None else default_checkpoint()
    if folder is None and not (path / "config.json").is_file():
        raise CheckpointError(f"{path}: no config.json there (the bundled demo model is missing from this installation; "
                              "pass --checkpoint DIR)")
    if not path.is_dir():
        raise CheckpointError(f"{path}: no config.json there (checkpoint folder not found)")
    return path


def resolve_device(choice: str | None) -> str:
    """``auto`` (or None) → ``cuda`` when a GPU is usable, else ``cpu``; a missing GPU is a clear error."""
    import torch

    choice = choice or "auto"
    if choice == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if choice.startswith("cuda") and not torch.cuda.is_available():
        raise DimGestureError(f"device {choice!r} was requested, but this PyTorch sees no usable CUDA GPU (use cpu)")
    return choice
