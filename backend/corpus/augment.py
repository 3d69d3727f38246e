"""Recording-condition augmentation of corpus speech: loudness, microphone band, room, noise.

Why: synthesised speech is clean and evenly loud; real recordings are not. A model trained only
on clean TTS mistakes a noisy pause for speech or a dull microphone for a different speaker. The
motion of a take is computed from its *clean* speech, and only the audio the model hears is
degraded, so the model learns to gesture the same way through these conditions.

Each effect is drawn per take from its own generator (``rng``): overall gain, a microphone
band-pass (telephone-like to wide-band), a room (synthetic exponentially decaying impulse
response, RT60 0.15–0.7 s) and background noise (white, pink or brown) at 12–40 dB SNR.
"""

from __future__ import annotations

import numpy as np
from scipy import signal


def band_pass(wave: np.ndarray, sample_rate: int, low_hz: float, high_hz: float) -> np.ndarray:
    """A microphone/channel band: 4th-order Butterworth between ``low_hz`` and ``high_hz``."""
    sos = signal.butter(4, [low_hz, min(high_hz, 0.45 * sample_rate)], btype="bandpass", fs=sample_rate, output="sos")
    return signal.sosfilt(sos, wave).astype(np.float32)


def room_impulse(sample_rate: int, rt60: float, rng: np.random.Generator) -> np.ndarray:
    """A room's impulse response: the direct sound, then noise decaying by 60 dB in ``rt60`` seconds."""
    n = int(rt60 * sample_rate)
    t = np.arange(n) / sample_rate
    tail = rng.normal(0.0, 1.0, n) * 10.0 ** (-3.0 * t / rt60)
    tail[: int(0.003 * sample_rate)] = 0.0  # first reflections arrive a few ms after the direct sound
    ir = 0.35 * tail / np.sqrt(np.sum(tail**2))
    ir[0] = 1.0
    return ir


def reverberate(wave: np.ndarray, sample_rate: int, rt60: float, rng: np.random.Generator) -> np.ndarray:
    """``wave`` in a room of reverberation time ``rt60`` (same length, same RMS)."""
    wet = signal.fftconvolve(wave, room_impulse(sample_rate, rt60, rng))[: len(wave)]
    return (wet * _rms(wave) / max(_rms(wet), 1e-12)).astype(np.float32)


def colored_noise(n: int, color: str, rng: np.random.Generator) -> np.ndarray:
    """Unit-RMS noise: ``white`` (flat), ``pink`` (1/f) or ``brown`` (1/f²) power spectrum."""
    spectrum = np.fft.rfft(rng.normal(0.0, 1.0, n))
    f = np.arange(len(spectrum), dtype=np.float64)
    f[0] = 1.0
    spectrum *= {"white": 1.0, "pink": f**-0.5, "brown": f**-1.0}[color]
    noise = np.fft.irfft(spectrum, n)
    return noise / max(_rms(noise), 1e-12)


def add_noise(wave: np.ndarray, snr_db: float, color: str, rng: np.random.Generator, speech_mask: np.ndarray | None = None) -> np.ndarray:
    """Noise at ``snr_db`` below the speech level (RMS over ``speech_mask`` samples, else the whole clip)."""
    level = _rms(wave[speech_mask] if speech_mask is not None and speech_mask.any() else wave)
    return (wave + colored_noise(len(wave), color, rng) * level * 10.0 ** (-snr_db / 20.0)).astype(np.float32)


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if len(x) else 0.0


def augment(wave: np.ndarray, sample_rate: int, rng: np.random.Generator, speech_mask: np.ndarray | None = None):
    """(degraded wave, what was done as a JSON-able dict); about one take in six stays clean."""
    done: dict = {}
    out = np.asarray(wave, dtype=np.float32)
    if rng.random() < 0.15:
        return out, done
    if rng.random() < 0.5:
        low, high = float(rng.uniform(60.0, 300.0)), float(rng.uniform(3400.0, 7500.0))
        out = band_pass(out, sample_rate, low, high)
        done["band_hz"] = [round(low), round(high)]
    if rng.random() < 0.4:
        rt60 = float(rng.uniform(0.15, 0.7))
        out = reverberate(out, sample_rate, rt60, rng)
        done["rt60"] = round(rt60, 3)
    if rng.random() < 0.6:
        snr, color = float(rng.uniform(12.0, 40.0)), str(rng.choice(["white", "pink", "brown"]))
        out = add_noise(out, snr, color, rng, speech_mask)
        done["noise"] = {"snr_db": round(snr, 1), "color": color}
    gain_db = float(rng.uniform(-14.0, 2.0))
    out = out * 10.0 ** (gain_db / 20.0)
    peak = float(np.abs(out).max()) if len(out) else 0.0
    if peak > 0.99:  # never clip: a louder draw is scaled back to full scale
        gain_db -= 20.0 * np.log10(peak / 0.99)
        out = out * (0.99 / peak)
    done["gain_db"] = round(gain_db, 2)
    return out.astype(np.float32), done
