"""GesturePipeline: audio -> Motion, checkpoint round trip (formats 1 and 2) and errors, passes, seeds, cancel."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import soundfile as sf
import torch

from backend.errors import AudioError, Cancelled, CheckpointError
from backend.model.config import preset
from backend.motion.features import FeatureStats, motion_to_features, num_features
from backend.motion.motion import Motion
from backend.motion.skeleton import Skeleton, default_skeleton
from backend.pipeline import GesturePipeline
from model_samples import open_gates, save_tiny_wavlm

STEPS = 3


def speech_like(seconds: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(16000 * seconds)) / 16000
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 3 * t)
    return (0.3 * envelope * np.sin(2 * np.pi * 180 * t) + 0.01 * rng.standard_normal(t.size)).astype(np.float32)


@pytest.fixture(scope="module")
def pipe():
    pipe = GesturePipeline.from_config(preset("tiny"))
    open_gates(pipe.model)
    return pipe


@pytest.fixture(scope="module")
def saved(pipe, tmp_path_factory):
    folder = tmp_path_factory.mktemp("ckpt")
    pipe.save_pretrained(folder)
    return folder


def small_skeleton() -> Skeleton:
    return Skeleton(["Hips", "Spine", "Head"], [-1, 0, 1], [[0, 90, 0], [0, 10, 0], [0, 20, 0]], np.tile([1.0, 0, 0, 0], (3, 1)))


@pytest.mark.parametrize("seconds, fps, frames", [(0.01, None, 1), (1.0, None, 20), (2.33, None, 47), (1.0, 30, 29), (2.0, 60, 118)])
def test_motion_for_any_length_and_fps(pipe, seconds, fps, frames):
    motion = pipe(speech_like(seconds), steps=STEPS, fps=fps)
    assert isinstance(motion, Motion)
    assert motion.fps == (fps or pipe.fps)
    assert motion.rotations.shape == (frames, 75, 4) and motion.root_positions.shape == (frames, 3)
    np.testing.assert_allclose(np.linalg.norm(motion.rotations, axis=-1), 1.0, atol=1e-5)
    assert motion.skeleton == default_skeleton()


def test_seed_determinism(pipe):
    wave = speech_like(1.0)
    a, b, c = (pipe(wave, seed=s, steps=STEPS) for s in (5, 5, 6))
    np.testing.assert_array_equal(a.rotations, b.rotations)
    np.testing.assert_array_equal(a.root_positions, b.root_positions)
    assert np.abs(a.rotations - c.rotations).max() > 1e-4


def test_path_input_and_style_reference(pipe, tmp_path):
    wave = speech_like(1.0)
    sf.write(tmp_path / "speech.wav", wave, 16000, subtype="FLOAT")
    from_file = pipe(tmp_path / "speech.wav", steps=STEPS)
    np.testing.assert_allclose(from_file.rotations, pipe(wave, steps=STEPS).rotations, atol=1e-6)
    styled = pipe(wave, steps=STEPS, style_audio=speech_like(2.0, seed=9) * 3)
    assert styled.rotations.shape == from_file.rotations.shape
    assert np.abs(styled.rotations - from_file.rotations).max() > 1e-4
    ignored = pipe(wave, steps=STEPS, style_audio=speech_like(2.0, seed=9) * 3, style_scale=0.0)
    np.testing.assert_allclose(ignored.rotations, from_file.rotations, atol=1e-4)  # strength 0: the speech's own style
    with pytest.raises(AudioError, match="not found"):
        pipe(tmp_path / "missing.wav", steps=STEPS)


def test_progress_and_cancel(pipe):
    events = []
    pipe(speech_like(0.5), steps=4, progress=lambda *e: events.append(e))
    assert events == [(i, 4, "denoising") for i in range(1, 5)]
    with pytest.raises(Cancelled):
        pipe(speech_like(0.5), steps=4, cancel=lambda: True)


def test_generation_in_passes_is_bounded_and_blended(pipe, monkeypatch):
    import backend.pipeline

    wave = speech_like(3.0)
    whole = pipe(wave, steps=STEPS)
    seen_frames, seen_audio = [], []
    original_denoise, original_frontend = backend.pipeline.denoise, pipe.frontend.forward

    def spy_denoise(model, scheduler, cond, **kwargs):
        seen_frames.append(cond.shape[1])
        return original_denoise(model, scheduler, cond, **kwargs)

    def spy_frontend(wave):
        seen_audio.append(wave.shape[-1])
        return original_frontend(wave)

    monkeypatch.setattr(backend.pipeline, "denoise", spy_denoise)
    monkeypatch.setattr(pipe.frontend, "forward", spy_frontend)
    events = []
    windowed = pipe(wave, steps=STEPS, pass_seconds=1.0, progress=lambda *e: events.append(e))
    assert windowed.rotations.shape == whole.rotations.shape
    assert len(seen_frames) == 4 and max(seen_frames) == 20  # 60 frames, windows of 20, overlap 5
    assert max(seen_audio) <= 16000
    assert [e[0] for e in events] == list(range(1, 4 * STEPS + 1)) and events[-1][1] == 4 * STEPS
    again = pipe(wave, steps=STEPS, pass_seconds=1.0)
    np.testing.assert_array_equal(again.rotations, windowed.rotations)


def test_save_load_round_trip(pipe, saved):
    assert sorted(p.name for p in saved.iterdir()) == ["config.json", "model.safetensors", "scheduler_config.json",
                                                        "stats.safetensors"]
    config = json.loads((saved / "config.json").read_text())
    assert config["format_version"] == 2 and config["data"] == {"fps": 20.0}
    assert config["output"] == {"smooth_seconds": 0.0} and config["model"]["frontend"]["kind"] == "mel"
    assert config["model"]["hidden"] == 64 and len(config["skeleton"]["names"]) == 75
    scheduler = json.loads((saved / "scheduler_config.json").read_text())
    assert (scheduler["sampler"], scheduler["steps"], scheduler["prediction_type"]) == ("ddim", 50, "epsilon")
    loaded = GesturePipeline.from_pretrained(saved)
    assert loaded.model.config == pipe.model.config and loaded.scheduler.config == pipe.scheduler.config
    assert (loaded.fps, loaded.output, loaded.skeleton) == (pipe.fps, pipe.output, pipe.skeleton)
    np.testing.assert_array_equal(loaded.stats.mean, pipe.stats.mean)
    wave = speech_like(1.2)
    a, b = pipe(wave, seed=3, steps=STEPS), loaded(wave, seed=3, steps=STEPS)
    np.testing.assert_array_equal(a.rotations, b.rotations)
    np.testing.assert_array_equal(a.root_positions, b.root_positions)


def test_custom_skeleton_and_stats(tmp_path):
    skeleton = small_skeleton()
    feats = np.random.default_rng(0).standard_normal((50, num_features(skeleton))).astype(np.float32)
    stats = FeatureStats.from_features(feats)
    pipe = GesturePipeline.from_config(preset("tiny"), skeleton, stats, seed=1)
    assert pipe.model.config.pose_dim == num_features(skeleton) == 22
    pipe.save_pretrained(tmp_path)
    loaded = GesturePipeline.from_pretrained(tmp_path)
    np.testing.assert_array_equal(loaded.stats.std, stats.std)
    motion = loaded(speech_like(0.5), steps=2)
    assert motion.rotations.shape == (10, 3, 4) and motion.skeleton == skeleton


def test_from_config_is_reproducible_and_rest_stats():
    a = GesturePipeline.from_config(preset("tiny"), seed=4)
    b = GesturePipeline.from_config(preset("tiny"), seed=4)
    for (n, p), (_, q) in zip(a.model.state_dict().items(), b.model.state_dict().items()):
        assert torch.equal(p, q), n
    skeleton = default_skeleton()
    rest = Motion(20.0, skeleton, skeleton.rest_rotations[None], skeleton.offsets[:1])
    np.testing.assert_allclose(a.stats.mean, motion_to_features(rest)[0])


def test_wavlm_pipeline_with_the_frontend_inside_the_checkpoint(tmp_path):
    wavlm = save_tiny_wavlm(tmp_path / "wavlm-src")
    frontend = {"kind": "wavlm", "wavlm_path": str(wavlm), "wavlm_layer": "weighted", "wavlm_dim": 64}
    pipe = GesturePipeline.from_config(preset("tiny").replace(frontend=frontend), small_skeleton())
    open_gates(pipe.model)
    with torch.no_grad():
        pipe.frontend.layer_weights.copy_(torch.tensor([0.5, -1.0, 2.0]))  # trained layer mix is saved too
    wave = speech_like(0.8)
    before = pipe(wave, steps=2)
    assert before.rotations.shape == (16, 3, 4)
    pipe.save_pretrained(tmp_path / "ck", include_frontend=True)
    shutil.rmtree(wavlm)
    assert json.loads((tmp_path / "ck" / "config.json").read_text())["model"]["frontend"]["wavlm_path"] == "wavlm"
    assert (tmp_path / "ck" / "wavlm" / "model.safetensors").is_file()
    loaded = GesturePipeline.from_pretrained(tmp_path / "ck")
    torch.testing.assert_close(loaded.frontend.layer_weights, pipe.frontend.layer_weights)
    np.testing.assert_array_equal(loaded(wave, steps=2).rotations, before.rotations)


def format_1(pipe, folder):
    """``pipe`` saved as the code before format 2 saved it (the bundled demo checkpoint's layout)."""
    pipe.save_pretrained(folder)
    new = json.loads((folder / "config.json").read_text())
    scheduler = json.loads((folder / "scheduler_config.json").read_text())
    (folder / "scheduler_config.json").unlink()
    model = new["model"]
    frontend = model.pop("frontend")
    model.update(dropout=0.1, diffusion={k: scheduler[k] for k in ("num_train_timesteps", "beta_schedule", "beta_start",
                                                                        "beta_end", "prediction_type")} | {"cond_drop_prob": 0.1})
    old = {"format_version": 1, "backend_version": "0.1.0", "fps": new["data"]["fps"], "frontend": frontend, "model": model,
           "sampler": {"name": scheduler["sampler"], "steps": scheduler["steps"], "guidance_scale": scheduler["guidance_scale"],
                       "smooth_seconds": new["output"]["smooth_seconds"]},
           "skeleton": new["skeleton"]}
    (folder / "config.json").write_text(json.dumps(old))


def test_format_1_checkpoints_load_with_their_scheduler_derived(pipe, tmp_path):
    from backend.model.config import OutputConfig, SchedulerConfig
    from backend.model.schedulers import GestureScheduler

    other = GesturePipeline(pipe.frontend, pipe.model, GestureScheduler(SchedulerConfig(prediction_type="sample", sampler="ddpm",
                            steps=7, guidance_scale=1.5)), pipe.skeleton, pipe.stats, fps=25.0, output=OutputConfig(0.2))
    format_1(other, tmp_path / "v1")
    loaded = GesturePipeline.from_pretrained(tmp_path / "v1")
    assert loaded.scheduler.config == other.scheduler.config
    assert (loaded.fps, loaded.output.smooth_seconds, loaded.model.config) == (25.0, 0.2, pipe.model.config)
    np.testing.assert_array_equal(loaded(speech_like(0.5), seed=2).rotations, other(speech_like(0.5), seed=2).rotations)
    loaded.save_pretrained(tmp_path / "v2")  # saving upgrades it
    assert json.loads((tmp_path / "v2" / "config.json").read_text())["format_version"] == 2
    assert GesturePipeline.from_pretrained(tmp_path / "v2").scheduler.config == other.scheduler.config


def test_the_bundled_demo_loads_with_its_defaults():
    # format 2 since the demo was retrained on corpus version 4; format-1 folders are covered above
    demo = GesturePipeline.from_pretrained(None)
    assert json.loads((demo_folder() / "config.json").read_text())["format_version"] == 2
    assert (demo.scheduler.config.sampler, demo.scheduler.config.steps, demo.scheduler.config.prediction_type) == (
        "dpmsolver++", 20, "sample")
    assert (demo.fps, demo.output.smooth_seconds, demo.model.config.hidden) == (20.0, 0.25, 128)


def demo_folder():
    from backend.loading import checkpoint_folder

    return checkpoint_folder(None)


def test_frontend_features(pipe):
    single = pipe.frontend_features(speech_like(1.0))
    batch = pipe.frontend_features(np.stack([speech_like(1.0), speech_like(1.0, seed=1)]))
    assert single.shape == (1, 51, 32) and batch.shape == (2, 51, 32)
    torch.testing.assert_close(batch[:1], single)


# ----------------------------------------------------------------------------- checkpoint errors


def broken_copy(saved, tmp_path):
    folder = tmp_path / "ck"
    shutil.copytree(saved, folder)
    return folder


def edit_config(folder, change):
    data = json.loads((folder / "config.json").read_text())
    change(data)
    (folder / "config.json").write_text(json.dumps(data))


def expect(folder, *fragments):
    with pytest.raises(CheckpointError) as info:
        GesturePipeline.from_pretrained(folder)
    for fragment in fragments:
        assert fragment in str(info.value), str(info.value)


def test_missing_folder_and_files(saved, tmp_path):
    expect(tmp_path / "absent", "absent", "not found")
    for name in ("config.json", "scheduler_config.json", "model.safetensors", "stats.safetensors"):
        folder = broken_copy(saved, tmp_path / name)
        (folder / name).unlink()
        expect(folder, name, "not found")


def test_newer_or_missing_format_version(saved, tmp_path):
    folder = broken_copy(saved, tmp_path)
    edit_config(folder, lambda d: d.update(format_version=3))
    expect(folder, "config.json", "format version 3 is newer")
    edit_config(folder, lambda d: d.pop("format_version"))
    expect(folder, "format_version")


def test_bad_config_contents(saved, tmp_path):
    folder = broken_copy(saved, tmp_path)
    (folder / "config.json").write_text("{not json")
    expect(folder, "config.json", "not valid JSON")
    shutil.copy(saved / "config.json", folder / "config.json")
    edit_config(folder, lambda d: d["model"].update(flavour="x"))
    expect(folder, "config.json", "unknown config key(s) model.flavour")
    shutil.copy(saved / "config.json", folder / "config.json")
    edit_config(folder, lambda d: d["data"].update(fps=0))
    expect(folder, "config.json", "data.fps must be a positive number")
    shutil.copy(saved / "config.json", folder / "config.json")
    (folder / "scheduler_config.json").write_text(json.dumps({"sampler": "euler"}))
    expect(folder, "scheduler_config.json", "scheduler.sampler must be one of")
    shutil.copy(saved / "scheduler_config.json", folder / "scheduler_config.json")
    shutil.copy(saved / "config.json", folder / "config.json")
    edit_config(folder, lambda d: d.pop("skeleton"))
    expect(folder, "config.json", "skeleton")
    shutil.copy(saved / "config.json", folder / "config.json")
    edit_config(folder, lambda d: d["skeleton"].update(parents=[5] * 75))
    expect(folder, "config.json", "parent")


def test_weights_that_do_not_match(saved, tmp_path):
    folder = broken_copy(saved, tmp_path)
    edit_config(folder, lambda d: d["model"].update(depth=3))
    expect(folder, "model.safetensors", "missing denoiser.blocks.2")
    edit_config(folder, lambda d: d["model"].update(depth=2, hidden=32))
    expect(folder, "model.safetensors", "has shape")


def test_truncated_and_pickled_weights(saved, tmp_path):
    folder = broken_copy(saved, tmp_path)
    data = (saved / "model.safetensors").read_bytes()
    (folder / "model.safetensors").write_bytes(data[: len(data) // 2])
    expect(folder, "model.safetensors", "truncated or corrupt")
    torch.save({"x": torch.zeros(1)}, folder / "model.safetensors")  # a pickle is refused, never loaded
    expect(folder, "model.safetensors", "not a readable safetensors file")
    shutil.copy(saved / "model.safetensors", folder / "model.safetensors")
    (folder / "stats.safetensors").write_bytes(b"")
    expect(folder, "stats.safetensors")


def test_bad_stats(saved, tmp_path):
    from safetensors.torch import save_file

    folder = broken_copy(saved, tmp_path)
    save_file({"mean": torch.zeros(454), "std": torch.zeros(454)}, str(folder / "stats.safetensors"))
    expect(folder, "stats.safetensors", "positive std")
    save_file({"mean": torch.zeros(10), "std": torch.ones(10)}, str(folder / "stats.safetensors"))
    expect(folder, "stats.safetensors", "shape")
    save_file({"mean": torch.full((454,), float("nan")), "std": torch.ones(454)}, str(folder / "stats.safetensors"))
    expect(folder, "stats.safetensors", "NaN")


def test_save_is_atomic_and_overwrites(pipe, saved, tmp_path):
    folder = broken_copy(saved, tmp_path)
    before = (folder / "model.safetensors").stat().st_ino
    pipe.save_pretrained(folder)
    assert (folder / "model.safetensors").stat().st_ino != before  # replaced by rename, not rewritten
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.safetensors", "scheduler_config.json", "stats.safetensors"]
    GesturePipeline.from_pretrained(folder)
