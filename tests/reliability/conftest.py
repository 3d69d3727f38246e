"""Shared fixtures for the reliability tests: a tiny pipeline and its saved checkpoint."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_pipeline():
    """A randomly initialised ``tiny`` pipeline (fast on a CPU; the same for every test)."""
    from backend.model.config import preset
    from backend.pipeline import GesturePipeline

    return GesturePipeline.from_config(preset("tiny"), seed=0)


@pytest.fixture(scope="session")
def tiny_checkpoint(tiny_pipeline, tmp_path_factory) -> Path:
    """The tiny pipeline saved as a checkpoint folder (config.json + two safetensors files)."""
    folder = tmp_path_factory.mktemp("checkpoint") / "tiny"
    tiny_pipeline.save_pretrained(folder)
    return folder
