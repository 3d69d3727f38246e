"""Prosody read from a speech waveform: loudness, voice activity, pitch, syllable onsets, stress.

The procedural gestures are driven by what can be heard, not by the text, so a model trained
on them has to learn the audio → motion mapping: beats land on stressed syllable onsets (the
peaks of the onset strength of a speech-band envelope), their size follows loudness, head
nods follow pitch accents, and everything rests where there is silence.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage, signal

HOP_SECONDS = 0.01
_WINDOW_SECONDS = 0.025
_PITCH_WINDOW_SECONDS = 0.04
_F0_MIN, _F0_MAX = 60.0, 400.0
_SILENCE_FLOOR_DB = -55.0


@dataclass
class Prosody:
    """Frame-wise prosody at ``hop`` seconds per frame plus detected events (times in seconds)."""

    hop: float
    loudness_db: np.ndarray  # (N,) RMS level, dB full scale
    speech: np.ndarray  # (N,) bool voice activity
    f0: np.ndarray  # (N,) Hz, 0 where unvoiced
    onsets: np.ndarray  # (K,) syllable onset times
    onset_loudness_db: np.ndarray  # (K,) peak level in the syllable that starts at the onset
    stress: np.ndarray  # (K,) prominence: loudness + pitch, z-scored within the clip
    stressed: np.ndarray  # (K,) bool: prominent onsets (candidates for beat strokes)
    accents: np.ndarray  # (M,) pitch accent times (a subset of onsets)
    accent_strength: np.ndarray  # (M,) pitch excursion in semitones

    @property
    def times(self) -> np.ndarray:
        return np.arange(len(self.loudness_db)) * self.hop

    def speech_at(self, t: np.ndarray) -> np.ndarray:
        """Voice activity at arbitrary times ``t`` (nearest analysis frame)."""
        idx = np.clip(np.round(np.asarray(t) / self.hop).astype(int), 0, len(self.speech) - 1)
        return self.speech[idx]


def _frames(wave: np.ndarray, sample_rate: int, window: float) -> np.ndarray:
    """(N, W) frames centred on multiples of the hop."""
    hop = int(round(HOP_SECONDS * sample_rate))
    win = int(round(window * sample_rate))
    n = int(np.ceil(len(wave) / hop))
    padded = np.pad(wave, (win // 2, win // 2 + n * hop - len(wave) + 1))
    return np.lib.stride_tricks.sliding_window_view(padded, win)[::hop][:n]


def _level_db(frames: np.ndarray) -> np.ndarray:
    return 10.0 * np.log10(np.mean(frames.astype(np.float64) ** 2, axis=1) + 1e-10)


def voice_activity(loudness_db: np.ndarray) -> np.ndarray:
    """Speech where the level is within 30 dB of the loud frames; short gaps bridged, blips dropped."""
    loud = np.percentile(loudness_db, 95)
    active = loudness_db > max(loud - 30.0, _SILENCE_FLOOR_DB)
    active = ndimage.binary_closing(active, structure=np.ones(int(0.15 / HOP_SECONDS)))
    return ndimage.binary_opening(active, structure=np.ones(int(0.06 / HOP_SECONDS)))


def pitch(wave: np.ndarray, sample_rate: int, speech: np.ndarray) -> np.ndarray:
    """F0 (Hz) by normalised autocorrelation in 40 ms frames; 0 where unvoiced or silent."""
    frames = _frames(wave, sample_rate, _PITCH_WINDOW_SECONDS)[: len(speech)].astype(np.float64)
    f0 = np.zeros(len(speech))
    idx = np.flatnonzero(speech)
    if len(idx) == 0:
        return f0
    lo, hi = int(sample_rate / _F0_MAX), int(sample_rate / _F0_MIN)
    window = np.hanning(frames.shape[1])
    nfft = 1 << int(np.ceil(np.log2(2 * frames.shape[1])))
    for start in range(0, len(idx), 4096):  # bounded memory on long clips
        sel = idx[start : start + 4096]
        x = frames[sel] - frames[sel].mean(axis=1, keepdims=True)
        x *= window
        ac = np.fft.irfft(np.abs(np.fft.rfft(x, nfft)) ** 2, nfft)[:, : hi + 2]
        ac /= ac[:, :1] + 1e-12
        lag = lo + np.argmax(ac[:, lo : hi + 1], axis=1)
        peak = ac[np.arange(len(sel)), lag]
        # parabolic interpolation of the peak for sub-sample lags
        a, b, c = ac[np.arange(len(sel)), lag - 1], peak, ac[np.arange(len(sel)), lag + 1]
        denom = a - 2 * b + c
        shift = np.where(np.abs(denom) > 1e-12, 0.5 * (a - c) / np.where(denom == 0, 1, denom), 0.0)
        voiced = peak > 0.45
        f0[sel[voiced]] = sample_rate / (lag[voiced] + shift[voiced])
    voiced = f0 > 0
    smooth = signal.medfilt(f0, 5)
    return np.where(voiced & (smooth > 0), smooth, 0.0)


def onset_strength(wave: np.ndarray, sample_rate: int) -> np.ndarray:
    """Rate of rise (dB per frame) of the 250–2500 Hz band envelope: peaks at syllable onsets."""
    sos = signal.butter(4, [250.0, 2500.0], btype="bandpass", fs=sample_rate, output="sos")
    band = signal.sosfiltfilt(sos, wave.astype(np.float64))
    level = _level_db(_frames(band, sample_rate, _WINDOW_SECONDS))
    level = ndimage.gaussian_filter1d(np.maximum(level, _SILENCE_FLOOR_DB - 10), 2.0)
    return np.maximum(np.gradient(level), 0.0)


def _zscore(x: np.ndarray) -> np.ndarray:
    if len(x) < 2:
        return np.zeros_like(x)
    return (x - np.median(x)) / (x.std() + 1e-6)


def analyse(wave: np.ndarray, sample_rate: int) -> Prosody:
    """All prosody of a mono clip; times are seconds from the clip start."""
    wave = np.asarray(wave, dtype=np.float64)
    level = _level_db(_frames(wave, sample_rate, _WINDOW_SECONDS))
    speech = voice_activity(level)
    f0 = pitch(wave, sample_rate, speech)
    strength = onset_strength(wave, sample_rate)[: len(level)]
    strength = np.where(speech, strength, 0.0)
    peaks, _ = signal.find_peaks(strength, height=0.8, distance=int(0.12 / HOP_SECONDS), prominence=0.5)

    # syllable level and pitch: the 200 ms after each onset
    span = int(0.2 / HOP_SECONDS)
    n = len(level)
    semitones = np.where(f0 > 0, 12.0 * np.log2(np.maximum(f0, 1.0) / 100.0), np.nan)
    ref_pitch = np.nanmedian(semitones) if np.any(f0 > 0) else 0.0
    syl_level = np.array([level[p : min(p + span, n)].max() for p in peaks]) if len(peaks) else np.zeros(0)
    syl_pitch = np.array(
        [np.nanmax(semitones[p : min(p + span, n)]) if np.any(f0[p : min(p + span, n)] > 0) else ref_pitch for p in peaks]
    ) if len(peaks) else np.zeros(0)
    stress = _zscore(syl_level) + 0.5 * _zscore(syl_pitch) + 0.3 * _zscore(strength[peaks] if len(peaks) else np.zeros(0))
    stressed = stress > np.median(stress) if len(stress) else np.zeros(0, bool)

    # pitch accents: onsets whose syllable rises well above the pitch of the surrounding 2 s
    excursion = np.zeros(len(peaks))
    for k, p in enumerate(peaks):
        lo, hi = max(0, p - 100), min(n, p + 100)
        around = semitones[lo:hi]
        if np.any(np.isfinite(around)):
            excursion[k] = syl_pitch[k] - np.nanmedian(around)
    is_accent = (excursion > 1.5) & stressed
    times = peaks * HOP_SECONDS
    return Prosody(
        hop=HOP_SECONDS, loudness_db=level.astype(np.float32), speech=speech, f0=f0.astype(np.float32),
        onsets=times, onset_loudness_db=syl_level, stress=stress, stressed=stressed,
        accents=times[is_accent], accent_strength=excursion[is_accent],
    )
