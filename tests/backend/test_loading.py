"""backend.loading: the default checkpoint, the device resolver and the errors of the one loader."""

import pytest
import torch

from backend import loading
from backend.errors import CheckpointError, DimGestureError
from backend.pipeline import GesturePipeline


def test_auto_device_follows_cuda_and_a_missing_gpu_is_a_clear_error():
    assert loading.resolve_device("auto") == loading.resolve_device(None) == ("cuda" if torch.cuda.is_available() else "cpu")
    assert loading.resolve_device("cpu") == "cpu"
    if not torch.cuda.is_available():
        with pytest.raises(DimGestureError, match="no usable CUDA GPU"):
            loading.resolve_device("cuda")


def test_from_pretrained_without_a_folder_loads_the_bundled_demo_or_says_it_is_missing(tmp_path, monkeypatch):
    if (loading.default_checkpoint() / "config.json").is_file():
        pipe = GesturePipeline.from_pretrained(device="auto")
        assert pipe.device.type == loading.resolve_device("auto")
    monkeypatch.setattr(loading, "default_checkpoint", lambda: tmp_path / "demo")
    with pytest.raises(CheckpointError, match="bundled demo model is missing"):
        GesturePipeline.from_pretrained()
    with pytest.raises(CheckpointError, match="nowhere: no config.json there \\(checkpoint folder not found\\)"):
        GesturePipeline.from_pretrained(tmp_path / "nowhere")
