"""Issue 8 §2: a bad checkpoint folder stops with a CheckpointError naming the file, and nothing in
it is ever unpickled or executed (proved with pickles whose loading would create a marker file)."""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path

import pytest
import torch

from backend.errors import CheckpointError
from backend.pipeline import CONFIG_FILE, FORMAT_VERSION, STATS_FILE, WEIGHTS_FILE, GesturePipeline


class _Payload:
    """Unpickling this object opens (creates) the marker file: proof that the pickle was executed."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def pickle_bytes(marker: Path) -> bytes:
    return pickle.dumps({"weight": _Payload(marker)})


def torch_save_bytes(marker: Path, folder: Path) -> bytes:
    path = folder / "payload.pt"
    torch.save({"weight": _Payload(marker)}, path)
    return path.read_bytes()


def test_payload_is_live(tmp_path):
    """Control: the payloads used below really do create their marker when unpickled."""
    marker = tmp_path / "marker"
    pickle.loads(pickle_bytes(marker))
    assert marker.exists()
    marker.unlink()
    torch.load(_write(tmp_path / "p.pt", torch_save_bytes(marker, tmp_path)), weights_only=False)
    assert marker.exists()


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.fixture
def checkpoint(tiny_checkpoint, tmp_path) -> Path:
    """A private copy of the good tiny checkpoint, free to break."""
    folder = tmp_path / "ckpt"
    shutil.copytree(tiny_checkpoint, folder)
    return folder


def _load_error(folder: Path) -> str:
    with pytest.raises(CheckpointError) as err:
        GesturePipeline.from_pretrained(folder)
    return str(err.value)


def test_good_checkpoint_loads(checkpoint, tiny_pipeline):
    pipe = GesturePipeline.from_pretrained(checkpoint)
    for name, tensor in tiny_pipeline.model.state_dict().items():
        assert torch.equal(pipe.model.state_dict()[name], tensor), name


def test_missing_folder(tmp_path):
    folder = tmp_path / "nowhere"
    message = _load_error(folder)
    assert str(folder) in message and "checkpoint folder not found" in message


def test_folder_is_a_file(tmp_path):
    path = _write(tmp_path / "model.safetensors", b"x")
    assert "checkpoint folder not found" in _load_error(path)


@pytest.mark.parametrize("name", [CONFIG_FILE, "scheduler_config.json", WEIGHTS_FILE, STATS_FILE])
def test_missing_file(checkpoint, name):
    (checkpoint / name).unlink()
    message = _load_error(checkpoint)
    assert str(checkpoint / name) in message and "file not found" in message


@pytest.mark.parametrize("text, problem", [
    ("", "not valid JSON"),
    ("{not json", "not valid JSON"),
    ("[1, 2]", "expected a JSON object"),
    ("\udcff", "not valid JSON"),
])
def test_unreadable_config(checkpoint, text, problem):
    (checkpoint / CONFIG_FILE).write_bytes(text.encode("utf-8", errors="surrogateescape"))
    message = _load_error(checkpoint)
    assert str(checkpoint / CONFIG_FILE) in message and problem in message


def _edit_config(folder: Path, edit) -> None:
    path = folder / CONFIG_FILE
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))


@pytest.mark.parametrize("edit, problem", [
    (lambda d: d.update(format_version=FORMAT_VERSION + 1), f"format version {FORMAT_VERSION + 1} is newer"),
    (lambda d: d.update(format_version=999), "update DiM-Gesture"),
    (lambda d: d.pop("format_version"), "missing or invalid format_version"),
    (lambda d: d.update(format_version="1"), "missing or invalid format_version"),
    (lambda d: d.update(format_version=True), "missing or invalid format_version"),
    (lambda d: d.pop("model"), "missing entry 'model'"),
    (lambda d: d.pop("skeleton"), "missing entry 'skeleton'"),
    (lambda d: d["model"].update(hidden="big"), "hidden has the wrong type"),
    (lambda d: d["model"].update(surprise=1), "unknown config key(s) model.surprise"),
    (lambda d: d.pop("data"), "missing entry 'data'"),
    (lambda d: d["data"].update(fps="fast"), "data.fps must be a positive number"),
    (lambda d: d["model"].update(mixer="lstm"), "mixer must be one of"),
    (lambda d: d["model"].update(pose_dim=10), "pose_dim 10 does not fit"),
])
def test_bad_config_entries(checkpoint, edit, problem):
    _edit_config(checkpoint, edit)
    message = _load_error(checkpoint)
    assert str(checkpoint / CONFIG_FILE) in message and problem in message


@pytest.mark.parametrize("text, problem", [
    ("{not json", "not valid JSON"),
    ('{"sampler": "euler"}', "scheduler.sampler must be one of"),
    ('{"steps": 5, "colour": 1}', "unknown config key(s) scheduler.colour"),
    ('{"steps": "many"}', "scheduler.steps has the wrong type"),
])
def test_bad_scheduler_config(checkpoint, text, problem):
    (checkpoint / "scheduler_config.json").write_text(text)
    message = _load_error(checkpoint)
    assert str(checkpoint / "scheduler_config.json") in message and problem in message


def test_wrong_tensor_shapes(checkpoint, tmp_path):
    """Weights from a differently sized model: every mismatch is named, nothing half-loaded."""
    from backend.model.config import preset

    other = GesturePipeline.from_config(preset("tiny").replace(hidden=32, headdim=16), seed=1)
    other.save_pretrained(tmp_path / "other")
    shutil.copyfile(tmp_path / "other" / WEIGHTS_FILE, checkpoint / WEIGHTS_FILE)
    message = _load_error(checkpoint)
    assert str(checkpoint / WEIGHTS_FILE) in message
    assert "does not match the model config" in message and "has shape" in message


def test_missing_and_unexpected_tensors(checkpoint):
    from backend.checkpoint import load_tensors, save_tensors

    weights = load_tensors(checkpoint / WEIGHTS_FILE)
    name = sorted(weights)[0]
    weights["extra.weight"] = weights.pop(name)
    save_tensors(checkpoint / WEIGHTS_FILE, weights)
    message = _load_error(checkpoint)
    assert f"missing {name}" in message and "unexpected extra.weight" in message


def test_wrong_stats_shape(checkpoint):
    from backend.checkpoint import save_tensors

    save_tensors(checkpoint / STATS_FILE, {"mean": torch.zeros(3), "std": torch.ones(3)})
    message = _load_error(checkpoint)
    assert str(checkpoint / STATS_FILE) in message and "mean has shape (3,)" in message


def test_nan_weights(checkpoint):
    from backend.checkpoint import load_tensors, save_tensors

    weights = load_tensors(checkpoint / WEIGHTS_FILE)
    name = next(n for n, t in sorted(weights.items()) if t.is_floating_point())
    weights[name] = torch.full_like(weights[name], float("nan"))
    save_tensors(checkpoint / WEIGHTS_FILE, weights)
    assert f"tensor {name} contains NaN" in _load_error(checkpoint)


@pytest.mark.parametrize("keep", [8, 100, 0.5, -1])
def test_truncated_safetensors(checkpoint, keep):
    path = checkpoint / WEIGHTS_FILE
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep) if isinstance(keep, float) else keep])
    message = _load_error(checkpoint)
    assert str(path) in message and "truncated or corrupt" in message


def test_zero_byte_safetensors(checkpoint):
    (checkpoint / STATS_FILE).write_bytes(b"")
    assert "truncated or corrupt" in _load_error(checkpoint)


@pytest.mark.parametrize("kind", ["pickle", "torch.save"])
@pytest.mark.parametrize("name", [WEIGHTS_FILE, STATS_FILE])
def test_pickle_disguised_as_safetensors_is_never_unpickled(checkpoint, tmp_path, kind, name):
    marker = tmp_path / "executed"
    data = pickle_bytes(marker) if kind == "pickle" else torch_save_bytes(marker, tmp_path)
    _write(checkpoint / name, data)
    message = _load_error(checkpoint)
    assert str(checkpoint / name) in message and "not a readable safetensors file" in message
    assert not marker.exists()


@pytest.mark.parametrize("name", ["pytorch_model.bin", "model.pt", "model.ckpt", "model.pth"])
def test_pickle_files_beside_the_checkpoint_are_ignored(checkpoint, tmp_path, name):
    """A .bin/.pt beside the real files is never opened; with model.safetensors gone it is not a fallback."""
    marker = tmp_path / "executed"
    _write(checkpoint / name, torch_save_bytes(marker, tmp_path))
    GesturePipeline.from_pretrained(checkpoint)
    assert not marker.exists()
    (checkpoint / WEIGHTS_FILE).unlink()
    message = _load_error(checkpoint)
    assert f"{checkpoint / WEIGHTS_FILE}: file not found" in message
    assert not marker.exists()


def _tiny_wavlm(folder: Path) -> Path:
    from transformers import WavLMConfig, WavLMModel

    config = WavLMConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                         conv_dim=(32, 32), conv_stride=(5, 2), conv_kernel=(10, 3), num_conv_pos_embeddings=16,
                         num_conv_pos_embedding_groups=2)
    torch.manual_seed(0)
    WavLMModel(config).save_pretrained(folder)
    return folder


def test_pickled_wavlm_inside_a_checkpoint_is_never_unpickled(tmp_path):
    """A WavLM frontend folder in the checkpoint must hold safetensors; a pytorch_model.bin is refused
    unread (not even torch's restricted unpickler runs on it)."""
    from backend.model.config import FrontendConfig, preset

    folder = tmp_path / "ckpt"
    _tiny_wavlm(folder / "wavlm")
    config = preset("tiny").replace(frontend=FrontendConfig(kind="wavlm", wavlm_path="wavlm", wavlm_layer=1, wavlm_dim=32))
    GesturePipeline.from_config(config, base_dir=folder).save_pretrained(folder)
    assert GesturePipeline.from_pretrained(folder).frontend.dim == 32

    marker = tmp_path / "executed"
    for weights in (folder / "wavlm").glob("*.safetensors"):
        weights.unlink()
    _write(folder / "wavlm" / "pytorch_model.bin", torch_save_bytes(marker, tmp_path))
    message = _load_error(folder)
    assert str(folder / CONFIG_FILE) in message and "cannot build the audio frontend" in message
    assert not marker.exists()


def test_generate_cli_reports_bad_checkpoint(checkpoint, tmp_path, capsys):
    from backend.cli import main

    _edit_config(checkpoint, lambda d: d.update(format_version=FORMAT_VERSION + 1))
    clip = tmp_path / "speech.wav"
    import soundfile as sf
    from reliability_helpers import SPEECH_SAMPLE_RATE, speech_like

    sf.write(clip, speech_like(0.5), SPEECH_SAMPLE_RATE)
    code = main(["generate", str(clip), "-o", str(tmp_path / "out"), "--checkpoint", str(checkpoint), "--no-progress",
                 "--device", "cpu"])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err
    assert f"{checkpoint / CONFIG_FILE}: format version {FORMAT_VERSION + 1} is newer" in err
    assert not (tmp_path / "out").exists()
