"""Real synthesised speech from the espeak-ng command-line program, at 16 kHz.

espeak-ng (a Debian package) is the only speech synthesiser we can rely on without network
access. It is called as a program with a list of arguments (no shell), writes a WAV file at
its native 22.05 kHz, and we resample with soxr to the 16 kHz every audio frontend expects.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from ..errors import DimGestureError

SAMPLE_RATE = 16000
# Base voices and variants that espeak-ng 1.51 ships (`espeak-ng --voices=en`, `--voices=variant`).
VOICES = ["en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-029", "en-us-nyc", "en-gb-x-gbclan", "en-gb-x-gbcwmd"]
VARIANTS = ["", "f2", "f3", "f4", "f5", "m1", "m2", "m3", "m5", "m7", "Andy", "Annie", "Alex", "Linda", "Steph", "john"]


class SpeechSynthesisError(DimGestureError):
    """espeak-ng is missing or failed; the message says how to fix it."""

    kind = "speech"


@dataclass(frozen=True)
class Voice:
    """One synthetic speaker: an espeak voice + variant, speaking rate and pitch."""

    voice: str  # e.g. "en-gb"
    variant: str  # e.g. "f3", "" for the default
    rate: int  # words per minute, espeak -s (80..450)
    pitch: int  # espeak -p (0..99)

    @property
    def name(self) -> str:
        return f"{self.voice}+{self.variant}" if self.variant else self.voice


def espeak_path() -> str:
    path = shutil.which("espeak-ng")
    if path is None:
        raise SpeechSynthesisError("espeak-ng was not found on PATH; install it (Debian: apt-get install espeak-ng)")
    return path


def synthesize(text: str, voice: Voice, amplitude: int = 100) -> np.ndarray:
    """Speak ``text`` and return (N,) float32 samples at 16 kHz (espeak's own edge silence kept)."""
    exe = espeak_path()
    with tempfile.TemporaryDirectory(prefix="dimgesture-tts-") as tmp:
        out = Path(tmp) / "speech.wav"
        cmd = [exe, "-w", str(out), "-v", voice.name, "-s", str(voice.rate), "-p", str(voice.pitch),
               "-a", str(amplitude), "--", text]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0 or not out.exists():
            raise SpeechSynthesisError(f"espeak-ng failed for voice {voice.name!r}: {proc.stderr.strip() or proc.returncode}")
        wave, rate = sf.read(out, dtype="float32", always_2d=True)
    wave = wave.mean(axis=1)
    if rate != SAMPLE_RATE:
        wave = soxr.resample(wave, rate, SAMPLE_RATE, quality="HQ")
    return np.ascontiguousarray(wave, dtype=np.float32)
