"""load_audio: formats, mono mixing, resampling, and every validation error names file + problem."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from backend.audio import check_waveform, load_audio
from backend.errors import AudioError


def tone(freq: float, rate: int, seconds: float, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def dominant_frequency(wave: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(wave * np.hanning(len(wave))))
    return float(np.fft.rfftfreq(len(wave), 1 / rate)[np.argmax(spectrum)])


def test_mono_16k_wav_is_returned_unchanged(tmp_path):
    wave = tone(220, 16000, 0.5)
    path = tmp_path / "a.wav"
    sf.write(path, wave, 16000, subtype="FLOAT")
    out = load_audio(path)
    assert out.dtype == np.float32 and out.shape == wave.shape
    np.testing.assert_array_equal(out, wave)


def test_stereo_is_mixed_to_mono_by_mean(tmp_path):
    left, right = tone(220, 16000, 0.25, 0.6), np.full(4000, 0.2, np.float32)
    path = tmp_path / "stereo.flac"
    sf.write(path, np.stack([left, right], axis=1), 16000, subtype="PCM_24")
    out = load_audio(path)
    np.testing.assert_allclose(out, (left + right) / 2, atol=1e-5)


def test_resampled_to_16k_keeps_pitch_and_duration(tmp_path):
    path = tmp_path / "hi.wav"
    sf.write(path, tone(440, 44100, 1.0), 44100)
    out = load_audio(path)
    assert abs(len(out) - 16000) <= 1
    assert abs(dominant_frequency(out, 16000) - 440) < 2


def test_other_target_rate(tmp_path):
    path = tmp_path / "a.ogg"
    sf.write(path, tone(300, 16000, 1.0), 16000, format="OGG", subtype="VORBIS")
    out = load_audio(path, sample_rate=8000)
    assert abs(len(out) - 8000) <= 1
    assert abs(dominant_frequency(out, 8000) - 300) < 3


def test_silence_is_allowed(tmp_path):
    path = tmp_path / "quiet.wav"
    sf.write(path, np.zeros(1600, np.float32), 16000)
    out = load_audio(path)
    assert out.shape == (1600,) and not out.any()


def expect_error(path, fragment, **kwargs):
    with pytest.raises(AudioError) as info:
        load_audio(path, **kwargs)
    message = str(info.value)
    assert str(path) in message and fragment in message, message


def test_missing_file(tmp_path):
    expect_error(tmp_path / "nope.wav", "not found")


def test_directory(tmp_path):
    expect_error(tmp_path, "folder")


def test_zero_bytes(tmp_path):
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    expect_error(path, "empty")


def test_garbage_named_wav(tmp_path):
    path = tmp_path / "fake.wav"
    path.write_bytes(b"ID3\x04\x00\x00\x00\x00\x00\x00" + bytes(range(256)) * 8)
    expect_error(path, "cannot be read as audio")


def test_truncated_header(tmp_path):
    good = tmp_path / "good.wav"
    sf.write(good, tone(220, 16000, 0.1), 16000)
    bad = tmp_path / "cut.wav"
    bad.write_bytes(good.read_bytes()[:20])
    expect_error(bad, "cannot be read as audio")


def test_no_samples(tmp_path):
    path = tmp_path / "hollow.wav"
    sf.write(path, np.zeros((0,), np.float32), 16000)
    expect_error(path, "no samples")


def test_nan_samples(tmp_path):
    wave = tone(220, 16000, 0.1)
    wave[100] = np.nan
    path = tmp_path / "nan.wav"
    sf.write(path, wave, 16000, subtype="FLOAT")
    expect_error(path, "NaN")


@pytest.mark.parametrize("rate", [2000, 400000])
def test_absurd_sample_rate(tmp_path, rate):
    path = tmp_path / f"rate{rate}.wav"
    sf.write(path, np.zeros(rate // 10, np.float32), rate)
    expect_error(path, f"{rate} Hz")


def test_too_long(tmp_path):
    path = tmp_path / "long.wav"
    sf.write(path, np.zeros(16000 * 3, np.float32), 16000)
    expect_error(path, "maximum is 2 s", max_seconds=2)
    assert load_audio(path, max_seconds=3).shape == (48000,)


def test_check_waveform():
    np.testing.assert_array_equal(check_waveform(np.array([0.0, 0.5], np.float64)), np.array([0, 0.5], np.float32))
    for bad, fragment in [
        (np.zeros((2, 10), np.float32), "mono"),
        (np.zeros(0, np.float32), "no samples"),
        (np.array([0.0, np.inf], np.float32), "NaN or infinite"),
        (np.zeros(10, np.int16), "floating point"),
    ]:
        with pytest.raises(AudioError, match=fragment):
            check_waveform(bad, "clip")
