"""Corpus voices (espeak-ng, flite, festival where installed) and recording-condition augmentation."""

import numpy as np
import pytest
import soundfile as sf
from scipy import signal

from backend.audio import SPEECH_SAMPLE_RATE
from backend.corpus import augment, prosody, speech, takes
from motion_samples import fixtures_dir


ENGINES = speech.available_engines()


def _rms(x):
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


def _band_level_db(wave, lo, hi):
    f, p = signal.welch(wave, SPEECH_SAMPLE_RATE, nperseg=2048)
    return 10 * np.log10(p[(f >= lo) & (f < hi)].mean())


@pytest.mark.parametrize("engine, voice", [
    ("espeak-ng", speech.Voice("en-gb", "f3", 170, 60)),
    ("flite", speech.Voice("slt", "", 170, 60, engine="flite")),
    ("flite", speech.Voice("kal16", "", 170, 30, engine="flite")),
    ("festival", speech.Voice("cmu_us_slt_arctic_hts", "", 170, 65, engine="festival")),
    ("festival", speech.Voice("kal_diphone", "", 170, 35, engine="festival")),
])
def test_each_installed_engine_speaks_at_16_khz(engine, voice):
    if engine not in ENGINES or (engine == "festival" and voice.voice not in speech.festival_voices()):
        pytest.skip(f"{engine} {voice.voice} not installed")
    wave = speech.synthesize("The little house by the river was painted blue.", voice, amplitude=100)
    assert wave.dtype == np.float32 and 1.2 < len(wave) / SPEECH_SAMPLE_RATE < 6.0
    pros = prosody.analyse(wave, SPEECH_SAMPLE_RATE)
    assert pros.speech.mean() > 0.4 and len(pros.onsets) >= 5, "syllables are found in the engine's speech"
    slower = speech.synthesize("The little house by the river was painted blue.",
                               speech.Voice(voice.voice, voice.variant, 110, voice.pitch, voice.engine))
    assert len(slower) > 1.15 * len(wave), "the rate slows the speech down"


def test_unknown_or_missing_voice_is_a_clear_error():
    with pytest.raises(speech.SpeechSynthesisError, match="unknown flite voice|not installed"):
        speech.synthesize("hi", speech.Voice("nobody", "", 170, 50, engine="flite"))
    with pytest.raises(speech.SpeechSynthesisError, match="unknown speech engine|not installed"):
        speech.synthesize("hi", speech.Voice("x", "", 170, 50, engine="sam"))


def test_voice_draw_falls_back_to_espeak_when_an_engine_is_missing():
    drawn = [takes._voice(np.random.default_rng([0, i, 1]), ("espeak-ng",)) for i in range(40)]
    assert {v.engine for v in drawn} == {"espeak-ng"}
    full = [takes._voice(np.random.default_rng([0, i, 1]), ("espeak-ng", "flite", "festival")) for i in range(40)]
    assert {v.engine for v in full} == {"espeak-ng", "flite", "festival"}
    # the same draws: where both chose espeak-ng, the speaker is the same
    assert all(a == b for a, b in zip(drawn, full) if b.engine == "espeak-ng")


def test_noise_lands_at_the_asked_snr():
    rng = np.random.default_rng(0)
    speech_like = (0.2 * np.sin(2 * np.pi * 220 * np.arange(SPEECH_SAMPLE_RATE * 2) / SPEECH_SAMPLE_RATE)).astype(np.float32)
    for color in ("white", "pink", "brown"):
        noisy = augment.add_noise(speech_like, 20.0, color, rng)
        snr = 20 * np.log10(_rms(speech_like) / _rms(noisy - speech_like))
        assert snr == pytest.approx(20.0, abs=0.1)
    pink = augment.colored_noise(SPEECH_SAMPLE_RATE * 4, "pink", rng)
    assert _band_level_db(pink, 100, 300) - _band_level_db(pink, 3000, 6000) > 8.0, "pink noise falls with frequency"


def test_band_pass_cuts_outside_the_microphone_band():
    white = augment.colored_noise(SPEECH_SAMPLE_RATE * 4, "white", np.random.default_rng(1)).astype(np.float32)
    band = augment.band_pass(white, SPEECH_SAMPLE_RATE, 300.0, 3400.0)
    assert _band_level_db(band, 800, 2000) - _band_level_db(band, 40, 100) > 25
    assert _band_level_db(band, 800, 2000) - _band_level_db(band, 6000, 7800) > 25


def test_reverberation_keeps_level_and_fills_the_gaps():
    click = np.zeros(SPEECH_SAMPLE_RATE, dtype=np.float32)
    click[1000:1100] = 0.5
    wet = augment.reverberate(click, SPEECH_SAMPLE_RATE, 0.5, np.random.default_rng(2))
    assert _rms(wet) == pytest.approx(_rms(click), rel=1e-6)
    assert np.abs(wet[3000:5000]).max() > 1e-3 and np.abs(click[3000:5000]).max() == 0.0, "the room rings on"
    ir = augment.room_impulse(SPEECH_SAMPLE_RATE, 0.4, np.random.default_rng(3))
    early, late = np.abs(ir[100:800]).mean(), np.abs(ir[int(0.3 * SPEECH_SAMPLE_RATE):int(0.4 * SPEECH_SAMPLE_RATE)]).mean()
    assert 20 * np.log10(early / late) > 25, "the tail decays toward -60 dB at RT60"


def test_augment_is_deterministic_records_what_it_did_and_never_clips():
    wave = (0.9 * np.sin(2 * np.pi * 180 * np.arange(SPEECH_SAMPLE_RATE * 2) / SPEECH_SAMPLE_RATE)).astype(np.float32)
    kinds = set()
    for seed in range(30):
        out, done = augment.augment(wave, SPEECH_SAMPLE_RATE, np.random.default_rng(seed))
        again, done_again = augment.augment(wave, SPEECH_SAMPLE_RATE, np.random.default_rng(seed))
        assert done == done_again and np.array_equal(out, again)
        assert len(out) == len(wave) and np.abs(out).max() <= 0.99 + 1e-6
        kinds |= set(done)
    assert kinds == {"band_hz", "rt60", "noise", "gain_db"}


def test_prosody_separates_speech_from_pauses_in_real_speech():
    fixtures = fixtures_dir()
    path = fixtures / "real_speech_68s.wav" if fixtures else None
    if path is None or not path.exists():
        pytest.skip("real_speech_68s.wav (../shared/fixtures) not available")
    wave, rate = sf.read(path, dtype="float32")
    assert rate == SPEECH_SAMPLE_RATE
    pros = prosody.analyse(wave, rate)
    voiced = pros.speech.mean()
    assert 0.5 < voiced < 0.97, "a monologue: mostly speech, with pauses"
    syllables_per_second = len(pros.onsets) / (pros.speech.sum() * pros.hop)
    assert 2.0 < syllables_per_second < 8.0, "about the syllable rate of conversational English"
