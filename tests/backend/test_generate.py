"""`dimgesture generate`: files written, frame counts, seeds, errors, preview."""

import numpy as np
import pytest
import soundfile as sf
from PIL import Image

from backend import loading
from backend.cli import main
from backend.model.config import preset, scheduler_preset
from backend.motion.bvh import read_bvh
from backend.motion.motion import Motion
from backend.pipeline import GesturePipeline
from model_samples import perturb


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A tiny pipeline with random (non-zero) weights, so its output depends on the noise seed."""
    folder = tmp_path_factory.mktemp("ckpt")
    pipe = GesturePipeline.from_config(preset("tiny"), seed=0, scheduler=scheduler_preset("tiny"))
    perturb(pipe.model)
    pipe.save_pretrained(folder)
    return folder


def write_clip(path, seconds, rate=22050):
    t = np.arange(int(seconds * rate)) / rate
    wave = 0.3 * np.sin(2 * np.pi * 180 * t) * (np.sin(2 * np.pi * 2 * t) > 0)
    sf.write(path, wave.astype(np.float32), rate)
    return path


def generate_cli(*args):
    return main(["generate", *map(str, args), "--steps", "2", "--no-progress"])


def test_writes_bvh_and_npz_with_one_frame_per_model_frame(tmp_path, checkpoint, capsys):
    clip = write_clip(tmp_path / "speech.wav", 1.5)
    assert generate_cli(clip, "-o", tmp_path / "out", "--checkpoint", checkpoint, "--format", "both") == 0
    bvh, npz = tmp_path / "out" / "speech.bvh", tmp_path / "out" / "speech.npz"
    assert capsys.readouterr().out.split() == [str(bvh), str(npz)]
    motion = Motion.load_npz(npz)
    assert motion.num_frames == 30 and motion.fps == 20.0  # 1.5 s at 20 fps
    assert motion.skeleton.num_joints == 75
    data = read_bvh(bvh)
    assert data.num_frames == 30 and data.fps == pytest.approx(20.0)
    from_bvh = data.to_motion()
    assert from_bvh.skeleton.names == motion.skeleton.names
    assert np.allclose(np.abs(np.sum(from_bvh.rotations * motion.rotations, axis=-1)), 1.0, atol=1e-4)


def test_output_file_name_and_fps(tmp_path, checkpoint):
    clip = write_clip(tmp_path / "speech.wav", 2.0, rate=16000)
    assert generate_cli(clip, "-o", tmp_path / "result.npz", "--checkpoint", checkpoint, "--fps", "30",
                        "--sampler", "ddim") == 0
    motion = Motion.load_npz(tmp_path / "result.npz")
    assert motion.fps == 30.0
    assert abs(motion.num_frames - 60) <= 1  # same duration, resampled
    assert not (tmp_path / "result.bvh").exists()


def test_same_seed_same_motion_other_seed_other_motion(tmp_path, checkpoint):
    clip = write_clip(tmp_path / "speech.wav", 1.0)
    runs = {}
    for name, seed in [("a", 7), ("b", 7), ("c", 8)]:
        assert generate_cli(clip, "-o", tmp_path / f"{name}.npz", "--checkpoint", checkpoint, "--seed", seed) == 0
        runs[name] = Motion.load_npz(tmp_path / f"{name}.npz")
    assert np.array_equal(runs["a"].rotations, runs["b"].rotations)
    assert np.array_equal(runs["a"].root_positions, runs["b"].root_positions)
    assert not np.allclose(runs["a"].rotations, runs["c"].rotations)


def test_several_clips_go_to_a_folder_with_one_preview_each(tmp_path, checkpoint):
    clips = [write_clip(tmp_path / f"{name}.wav", 0.8) for name in ("one", "two")]
    assert generate_cli(*clips, "-o", tmp_path / "out", "--checkpoint", checkpoint, "--preview", tmp_path / "p.gif") == 0
    for name in ("one", "two"):
        motion = read_bvh(tmp_path / "out" / f"{name}.bvh").to_motion()
        with Image.open(tmp_path / f"p-{name}.gif") as gif:
            assert gif.n_frames == motion.num_frames == 16


def test_missing_checkpoint_is_a_clear_error(tmp_path, capsys, monkeypatch):
    clip = write_clip(tmp_path / "speech.wav", 0.5)
    assert generate_cli(clip, "-o", tmp_path / "out", "--checkpoint", tmp_path / "nowhere") == 1
    assert "nowhere: no config.json there" in capsys.readouterr().err
    monkeypatch.setattr(loading, "default_checkpoint", lambda: tmp_path / "checkpoints" / "demo")
    assert generate_cli(clip, "-o", tmp_path / "out") == 1
    err = capsys.readouterr().err
    assert "checkpoints/demo" in err and "bundled demo model is missing" in err
    assert not (tmp_path / "out").exists()


def test_default_checkpoint_is_the_bundled_demo():
    import backend
    from pathlib import Path

    assert loading.default_checkpoint() == Path(backend.__file__).resolve().parent.parent / "checkpoints" / "demo"


@pytest.mark.parametrize(
    "extra, message",
    [
        (["{tmp}/b.wav", "-o", "{tmp}/x.bvh"], "a file name works for one clip only"),
        (["{tmp}/missing.wav", "-o", "{tmp}/out"], "missing.wav: audio file not found"),
        (["-o", "{tmp}/out", "--preview", "{tmp}/p.png"], "use a .gif or .mp4"),
        (["-o", "{tmp}/out", "--style-audio", "{tmp}/nostyle.wav"], "nostyle.wav: file not found"),
        (["-o", "{tmp}/out", "--steps", "0"], "--steps must be >= 1"),
    ],
)
def test_bad_requests_fail_before_loading_the_model(tmp_path, capsys, monkeypatch, extra, message):
    def no_model(*args, **kwargs):
        raise AssertionError("the model must not be loaded for a bad request")

    monkeypatch.setattr(GesturePipeline, "from_pretrained", no_model)
    write_clip(tmp_path / "a.wav", 0.5)
    write_clip(tmp_path / "b.wav", 0.5)
    args = ["generate", str(tmp_path / "a.wav"), *[a.format(tmp=tmp_path) for a in extra]]
    assert main(args) == 1
    assert message in capsys.readouterr().err


def test_style_audio_changes_the_motion(tmp_path, checkpoint):
    clip = write_clip(tmp_path / "speech.wav", 1.0)
    style = tmp_path / "style.wav"
    sf.write(style, np.random.default_rng(0).normal(0, 0.3, 16000).astype(np.float32), 16000)
    assert generate_cli(clip, "-o", tmp_path / "plain.npz", "--checkpoint", checkpoint) == 0
    assert generate_cli(clip, "-o", tmp_path / "styled.npz", "--checkpoint", checkpoint, "--style-audio", style) == 0
    plain, styled = Motion.load_npz(tmp_path / "plain.npz"), Motion.load_npz(tmp_path / "styled.npz")
    assert plain.num_frames == styled.num_frames == 20
    assert not np.allclose(plain.rotations, styled.rotations)
    assert generate_cli(clip, "-o", tmp_path / "strong.npz", "--checkpoint", checkpoint, "--style-audio", style,
                        "--style-strength", "3") == 0
    strong = Motion.load_npz(tmp_path / "strong.npz")
    assert np.abs(strong.rotations - plain.rotations).mean() > np.abs(styled.rotations - plain.rotations).mean()


def test_pass_seconds_and_its_old_name_generate_the_same_passes(tmp_path, checkpoint):
    clip = write_clip(tmp_path / "speech.wav", 2.0, rate=16000)
    for option, name in [("--pass-seconds", "new"), ("--window-seconds", "old")]:
        assert generate_cli(clip, "-o", tmp_path / f"{name}.npz", "--checkpoint", checkpoint, option, "0.8") == 0
    assert generate_cli(clip, "-o", tmp_path / "whole.npz", "--checkpoint", checkpoint) == 0
    new, old, whole = (Motion.load_npz(tmp_path / f"{n}.npz") for n in ("new", "old", "whole"))
    assert new.num_frames == whole.num_frames == 40
    np.testing.assert_array_equal(new.rotations, old.rotations)
    assert not np.allclose(new.rotations, whole.rotations)  # passes: another noise draw per pass
