"""Issue 8 §1: bad speech clips either work or stop with an AudioError naming the file and the problem.

Checked at three levels: ``backend.audio.load_audio``, the ``GesturePipeline`` (what the server
runs) and the ``dimgesture generate`` command line (what a user runs).
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from backend.audio import load_audio
from backend.errors import AudioError
from reliability_helpers import SPEECH_SAMPLE_RATE, speech_like


# --- clip builders: each writes one kind of file into a folder and returns its path ----------------
def _wav(folder: Path, name: str = "speech.wav", seconds: float = 1.0, rate: int = SPEECH_SAMPLE_RATE, **kw) -> Path:
    path = folder / name
    sf.write(path, speech_like(seconds, rate, kw.pop("channels", 1)), rate, **kw)
    return path


def missing(folder: Path) -> Path:
    return folder / "no-such-clip.wav"


def directory(folder: Path) -> Path:
    path = folder / "clips.wav"
    path.mkdir()
    return path


def zero_bytes(folder: Path) -> Path:
    path = folder / "empty.wav"
    path.write_bytes(b"")
    return path


def truncated_header(folder: Path) -> Path:
    path = _wav(folder, "cut.wav")
    path.write_bytes(path.read_bytes()[:30])  # the RIFF header stops before the data chunk
    return path


def corrupted(folder: Path) -> Path:
    path = _wav(folder, "corrupt.wav")
    rng = np.random.default_rng(1)
    path.write_bytes(path.read_bytes()[:12] + rng.bytes(4000))  # "RIFF....WAVE" then noise
    return path


def random_bytes(folder: Path) -> Path:
    path = folder / "noise.wav"
    path.write_bytes(np.random.default_rng(2).bytes(5000))
    return path


def unsupported_m4a(folder: Path) -> Path:
    path = folder / "speech.m4a"  # an MP4/AAC container: libsndfile has no AAC decoder
    path.write_bytes(struct.pack(">I", 24) + b"ftypM4A " + b"\0" * 12 + struct.pack(">I", 16) + b"mdat" + b"\1" * 8)
    return path


def text_file(folder: Path) -> Path:
    path = folder / "notes.wav"
    path.write_text("this is not audio\n" * 50)
    return path


def float_wav_with(value: float):
    def build(folder: Path) -> Path:
        wave = speech_like(1.0)
        wave[1234] = value
        path = folder / f"bad-{value}.wav"
        sf.write(path, wave, SPEECH_SAMPLE_RATE, subtype="FLOAT")
        return path

    build.__name__ = f"float_wav_with_{value}"
    return build


def rate_2khz(folder: Path) -> Path:
    return _wav(folder, "telephone.wav", rate=2000)


BAD = [
    (missing, "file not found"),
    (directory, "is a folder"),
    (zero_bytes, "empty (0 bytes)"),
    (truncated_header, "cannot be read as audio"),
    (corrupted, "cannot be read as audio"),
    (random_bytes, "unsupported format or corrupt"),
    (unsupported_m4a, "unsupported format or corrupt"),
    (text_file, "unsupported format or corrupt"),
    (float_wav_with(float("nan")), "NaN or infinite"),
    (float_wav_with(float("inf")), "NaN or infinite"),
    (float_wav_with(float("-inf")), "NaN or infinite"),
    (rate_2khz, "sample rate 2000 Hz is outside"),
]


@pytest.mark.parametrize("build, problem", BAD, ids=[b.__name__ for b, _ in BAD])
def test_bad_clip_is_refused_naming_file_and_problem(tmp_path, build, problem):
    path = build(tmp_path)
    with pytest.raises(AudioError) as err:
        load_audio(path)
    assert str(path) in str(err.value)
    assert problem in str(err.value)


# --- clips that must simply work -----------------------------------------------------------------
def silence(folder: Path) -> Path:
    path = folder / "silence.wav"
    sf.write(path, np.zeros(SPEECH_SAMPLE_RATE, np.int16), SPEECH_SAMPLE_RATE)
    return path


def rate_8k(folder: Path) -> Path:
    return _wav(folder, "8k.wav", rate=8000)


def rate_192k(folder: Path) -> Path:
    return _wav(folder, "192k.wav", rate=192000, subtype="PCM_24")


def six_channels(folder: Path) -> Path:
    return _wav(folder, "surround.wav", channels=6)


def tenth_second(folder: Path) -> Path:
    return _wav(folder, "short.wav", seconds=0.1)


def one_sample(folder: Path) -> Path:
    return _wav(folder, "click.wav", seconds=1 / SPEECH_SAMPLE_RATE)


def mp3_named_wav(folder: Path) -> Path:
    mp3 = folder / "real.mp3"
    sf.write(mp3, speech_like(1.0), SPEECH_SAMPLE_RATE, format="MP3")
    path = folder / "disguised.wav"
    path.write_bytes(mp3.read_bytes())  # libsndfile detects the format from the bytes, not the name
    return path


def truncated_data(folder: Path) -> Path:
    path = _wav(folder, "half.wav")
    data = path.read_bytes()
    path.write_bytes(data[: 44 + (len(data) - 44) // 2])  # header promises 1 s, half of it is there
    return path


# builder -> expected length in seconds at 16 kHz
GOOD = [
    (silence, 1.0),
    (rate_8k, 1.0),
    (rate_192k, 1.0),
    (six_channels, 1.0),
    (tenth_second, 0.1),
    (one_sample, 1 / SPEECH_SAMPLE_RATE),
    (mp3_named_wav, 1.0),
    (truncated_data, 0.5),
]


@pytest.mark.parametrize("build, seconds", GOOD, ids=[b.__name__ for b, _ in GOOD])
def test_unusual_clip_loads_as_mono_16khz(tmp_path, build, seconds):
    wave = load_audio(build(tmp_path))
    assert wave.dtype == np.float32 and wave.ndim == 1
    # MP3 adds encoder padding; resampling may round by a sample.
    assert abs(wave.shape[0] - seconds * SPEECH_SAMPLE_RATE) <= (2000 if build is mp3_named_wav else 2)
    assert np.isfinite(wave).all() and np.abs(wave).max() <= 1.0
    if build is silence:
        assert not wave.any()
    else:
        assert np.abs(wave).max() > 0.05 or wave.shape[0] < 10


@pytest.mark.parametrize("rate", [8000, 192000])
def test_resampled_clip_keeps_its_content(tmp_path, rate):
    """8 kHz and 192 kHz clips arrive at 16 kHz with the same waveform (not just the same length)."""
    reference = speech_like(1.0)
    wave = load_audio(_wav(tmp_path, rate=rate, subtype="FLOAT"))
    core = slice(800, -800)  # resampler edge effects
    assert np.corrcoef(wave[core], reference[core])[0, 1] > 0.99


def test_six_channels_are_averaged(tmp_path):
    path = tmp_path / "six.wav"
    channels = speech_like(0.5, channels=6)
    sf.write(path, channels, SPEECH_SAMPLE_RATE, subtype="FLOAT")
    np.testing.assert_allclose(load_audio(path), channels.mean(axis=1), atol=1e-6)


# --- 2-hour clips: refused by a configurable limit before anything is read ------------------------
def _sparse_two_hour_wav(path: Path) -> Path:
    """A valid 16-bit WAV header announcing 2 h at 16 kHz, with a sparse (unallocated) data body."""
    frames = 2 * 3600 * SPEECH_SAMPLE_RATE
    data_bytes = frames * 2
    header = b"RIFF" + struct.pack("<I", 36 + data_bytes) + b"WAVE"
    header += b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, SPEECH_SAMPLE_RATE, SPEECH_SAMPLE_RATE * 2, 2, 16)
    header += b"data" + struct.pack("<I", data_bytes)
    with open(path, "wb") as f:
        f.write(header)
        f.truncate(len(header) + data_bytes)
    return path


def test_two_hour_clip_is_refused_by_the_configurable_limit(tmp_path):
    path = _sparse_two_hour_wav(tmp_path / "lecture.wav")
    assert sf.info(path).duration == pytest.approx(7200.0)
    with pytest.raises(AudioError) as err:
        load_audio(path, max_seconds=600)
    assert str(path) in str(err.value) and "7200.0 s long; the maximum is 600 s" in str(err.value)


def test_limit_only_refuses_clips_over_it(tmp_path):
    path = _wav(tmp_path, seconds=2.0)
    assert load_audio(path, max_seconds=2.0).shape == (2 * SPEECH_SAMPLE_RATE,)
    with pytest.raises(AudioError, match="the maximum is 1.5 s"):
        load_audio(path, max_seconds=1.5)


def test_long_clip_never_reaches_the_denoiser_whole(tiny_pipeline, monkeypatch):
    """Past MAX_PASS_SECONDS the pipeline windows by itself: the frontend and the denoiser only ever
    see one window, so their memory does not grow with the clip (a 2-hour clip is 80 such windows)."""
    from backend import pipeline as pipeline_module
    from backend import windowing

    monkeypatch.setattr(windowing, "MAX_PASS_SECONDS", 2.0)
    fps = tiny_pipeline.fps
    seen_frames, seen_samples = [], []
    real_denoise, real_frontend = pipeline_module.denoise, tiny_pipeline.frontend_features

    def denoise(model, scheduler, cond, **kw):
        seen_frames.append(cond.shape[1])
        return real_denoise(model, scheduler, cond, **kw)

    def frontend(wave):
        seen_samples.append(len(wave))
        return real_frontend(wave)

    monkeypatch.setattr(pipeline_module, "denoise", denoise)
    monkeypatch.setattr(tiny_pipeline, "frontend_features", frontend)
    motion = tiny_pipeline(speech_like(5.0), steps=1)
    assert motion.num_frames == round(5.0 * fps)
    assert len(seen_frames) >= 3
    assert max(seen_frames) <= 2.0 * fps
    assert max(seen_samples) <= 2.0 * SPEECH_SAMPLE_RATE + 1
    assert np.isfinite(motion.rotations).all()

    seen_frames.clear()
    tiny_pipeline(speech_like(1.5), steps=1)  # under the limit: one pass, as before
    assert seen_frames == [round(1.5 * fps)]


# --- through the pipeline and the command line ---------------------------------------------------
@pytest.mark.parametrize("build, seconds", GOOD, ids=[b.__name__ for b, _ in GOOD])
def test_unusual_clip_generates_finite_motion(tmp_path, tiny_pipeline, build, seconds):
    motion = tiny_pipeline(build(tmp_path), steps=1)
    expected = max(1, round(seconds * tiny_pipeline.fps))
    assert abs(motion.num_frames - expected) <= (2 if build is mp3_named_wav else 0)
    assert motion.rotations.shape[1:] == (tiny_pipeline.skeleton.num_joints, 4)
    assert np.isfinite(motion.rotations).all() and np.isfinite(motion.root_positions).all()
    np.testing.assert_allclose(np.linalg.norm(motion.rotations, axis=-1), 1.0, atol=1e-6)


@pytest.mark.parametrize("build, problem", BAD[2:], ids=[b.__name__ for b, _ in BAD[2:]])
def test_pipeline_refuses_bad_clip_before_sampling(tmp_path, tiny_pipeline, monkeypatch, build, problem):
    from backend import pipeline as pipeline_module

    path = build(tmp_path)
    monkeypatch.setattr(pipeline_module, "denoise", lambda *a, **k: pytest.fail("sampled a bad clip"))
    with pytest.raises(AudioError, match=problem.replace("(", r"\(").replace(")", r"\)")) as err:
        tiny_pipeline(path)
    assert str(path) in str(err.value)


@pytest.mark.parametrize("waveform, problem", [
    (np.zeros((2, 100), np.float32), "mono waveform"),
    (np.zeros(0, np.float32), "no samples"),
    (np.full(10, np.nan, np.float32), "NaN or infinite"),
    (np.zeros(10, np.int16), "floating point"),
])
def test_pipeline_refuses_bad_in_memory_waveform(tiny_pipeline, waveform, problem):
    with pytest.raises(AudioError, match=problem):
        tiny_pipeline(waveform)


def _generate(args: list[str], capsys) -> tuple[int, str]:
    from backend.cli import main

    code = main(["generate", *args, "--no-progress", "--device", "cpu"])
    return code, capsys.readouterr().err


CLI_BAD = [missing, directory, zero_bytes, corrupted, unsupported_m4a, float_wav_with(float("nan"))]


@pytest.mark.parametrize("build", CLI_BAD, ids=[b.__name__ for b in CLI_BAD])
def test_generate_cli_reports_bad_clip_and_writes_nothing(tmp_path, tiny_checkpoint, capsys, build):
    clips = tmp_path / "clips"
    clips.mkdir()
    path = build(clips)
    out = tmp_path / "out"
    code, err = _generate([str(path), "-o", str(out), "--checkpoint", str(tiny_checkpoint)], capsys)
    assert code == 1
    assert err.startswith("dimgesture generate: error: ") and str(path) in err
    assert "Traceback" not in err
    assert not out.exists() or not any(out.iterdir())


def test_generate_cli_handles_unusual_clip(tmp_path, tiny_checkpoint, capsys):
    path = six_channels(tmp_path)
    out = tmp_path / "out.bvh"
    code, err = _generate([str(path), "-o", str(out), "--checkpoint", str(tiny_checkpoint), "--steps", "1"], capsys)
    assert code == 0, err
    assert out.is_file() and out.read_text().startswith("HIERARCHY")
