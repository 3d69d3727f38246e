"""Where bench's models come from, each with the label the results carry.

Why labels: a checkpoint is loaded through the one loader (``GesturePipeline.from_pretrained``),
exactly as ``dimgesture generate`` loads it. A preset without a checkpoint (``tiny`` for the smoke
test, ``small`` in the child processes of the denoiser section, ``paper`` on the GPU) gets random
weights, built explicitly with ``GesturePipeline.from_config``: right for speed and memory,
meaningless for quality, and every result made with one says so.
"""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path
from typing import Iterator

from .repo import shown


def load(checkpoint: Path | None, device: str = "cpu"):
    """(pipeline, label) of a checkpoint folder (None: the bundled demo)."""
    from ...loading import checkpoint_folder
    from ...pipeline import GesturePipeline

    folder = checkpoint_folder(checkpoint)
    return GesturePipeline.from_pretrained(folder, device), f"checkpoint {shown(folder)}"


def random_model(preset_name: str, device: str = "cpu", **changes):
    """(pipeline, label): the preset (with ``changes`` to its config) with random weights, seed 0."""
    from ...model.config import preset, scheduler_preset
    from ...pipeline import GesturePipeline

    pipe = GesturePipeline.from_config(preset(preset_name).replace(**changes), seed=0,
                                       scheduler=scheduler_preset(preset_name)).to(device)
    return pipe, f"random '{preset_name}' model (quality figures are meaningless)"


@contextlib.contextmanager
def random_checkpoint(preset_name: str) -> Iterator[tuple[Path, str]]:
    """(folder, label): ``random_model`` saved as a checkpoint, for the sections that start processes."""
    pipe, label = random_model(preset_name)
    with tempfile.TemporaryDirectory(prefix="dimgesture-bench-ckpt-") as tmp:
        pipe.save_pretrained(tmp)
        yield Path(tmp), label


def random_wavlm(folder: Path, wavlm_config) -> dict:
    """A WavLM of ``wavlm_config``'s shape with random weights, saved in ``folder`` (safetensors);
    returns the frontend config that points at it. Speed and memory do not depend on the weights."""
    import torch
    from transformers import WavLMModel

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        WavLMModel(wavlm_config).save_pretrained(folder)
    return {"kind": "wavlm", "wavlm_path": str(folder), "wavlm_dim": wavlm_config.hidden_size,
            "wavlm_layer": min(12, wavlm_config.num_hidden_layers)}  # Persona-Gestor's layer 12 of WavLM-Large
