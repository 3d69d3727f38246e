"""Real synthesised speech from the Debian speech synthesisers, at 16 kHz.

Three engines, so that a model trained on the corpus hears more than one kind of voice:
espeak-ng (formant synthesis, many accents and variants), flite (its built-in diphone and
clustergen voices) and festival (diphone voices and the HTS statistical voice
``cmu_us_slt_arctic_hts``, the closest to a recorded human voice that Debian ships). Each is
called as a program with a list of arguments (no shell) and writes a WAV file at its native
rate, which soxr resamples to the 16 kHz every audio frontend expects. espeak-ng is required;
flite and festival are used where installed (``available_engines``).
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

from ..audio import SPEECH_SAMPLE_RATE
from ..errors import DimGestureError

# Base voices and variants that espeak-ng 1.51 ships (`espeak-ng --voices=en`, `--voices=variant`).
VOICES = ["en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-029", "en-us-nyc", "en-gb-x-gbclan", "en-gb-x-gbcwmd"]
VARIANTS = ["", "f2", "f3", "f4", "f5", "m1", "m2", "m3", "m5", "m7", "Andy", "Annie", "Alex", "Linda", "Steph", "john"]
ENGINES = ("espeak-ng", "flite", "festival")
# flite's built-in English voices (`flite -lv`, less the limited-domain awb_time and the 8 kHz kal)
FLITE_VOICES = ["kal16", "awb", "rms", "slt"]
# festival voices of the Debian packages festvox-kallpc16k, festvox-kdlpc16k, festvox-us-slt-hts
FESTIVAL_VOICES = {"kal_diphone": "english", "ked_diphone": "english", "cmu_us_slt_arctic_hts": "us"}
FESTIVAL_VOICE_ROOT = Path("/usr/share/festival/voices")


class SpeechSynthesisError(DimGestureError):
    """espeak-ng is missing or failed; the message says how to fix it."""

    kind = "speech"


@dataclass(frozen=True)
class Voice:
    """One synthetic speaker: an engine's voice (+ espeak variant), speaking rate and pitch."""

    voice: str  # e.g. "en-gb" (espeak-ng), "slt" (flite), "cmu_us_slt_arctic_hts" (festival)
    variant: str  # espeak-ng variant, e.g. "f3"; "" for the default and for the other engines
    rate: int  # words per minute (espeak -s; flite and festival: duration stretch 150 / rate)
    pitch: int  # 0..99 (espeak -p; flite: mean F0 70 + 1.6 * pitch Hz; festival: the voice's own)
    engine: str = "espeak-ng"

    @property
    def name(self) -> str:
        if self.engine != "espeak-ng":
            return f"{self.engine}:{self.voice}"
        return f"{self.voice}+{self.variant}" if self.variant else self.voice


def espeak_path() -> str:
    path = shutil.which("espeak-ng")
    if path is None:
        raise SpeechSynthesisError("espeak-ng was not found on PATH; install it (Debian: apt-get install espeak-ng)")
    return path


def available_engines() -> tuple[str, ...]:
    """The engines installed here (festival counts only with at least one of its voices)."""
    found = ["espeak-ng"] if shutil.which("espeak-ng") else []
    if shutil.which("flite"):
        found.append("flite")
    if shutil.which("text2wave") and any((FESTIVAL_VOICE_ROOT / d / v).is_dir() for v, d in FESTIVAL_VOICES.items()):
        found.append("festival")
    return tuple(found)


def festival_voices() -> list[str]:
    """Festival voices of FESTIVAL_VOICES that are installed."""
    return [v for v, d in FESTIVAL_VOICES.items() if (FESTIVAL_VOICE_ROOT / d / v).is_dir()]


def _command(text: str, voice: Voice, amplitude: int, out: Path, tmp: Path) -> list[str]:
    stretch = f"{150.0 / max(voice.rate, 1):.3f}"
    if voice.engine == "espeak-ng":
        return [espeak_path(), "-w", str(out), "-v", voice.name, "-s", str(voice.rate), "-p", str(voice.pitch),
                "-a", str(amplitude), "--", text]
    if voice.engine == "flite":
        if voice.voice not in FLITE_VOICES:
            raise SpeechSynthesisError(f"unknown flite voice {voice.voice!r} (known: {', '.join(FLITE_VOICES)})")
        return ["flite", "-voice", voice.voice, "--setf", f"duration_stretch={stretch}",
                "--setf", f"int_f0_target_mean={70 + 1.6 * voice.pitch:.0f}", "-t", text, "-o", str(out)]
    if voice.engine == "festival":
        if voice.voice not in FESTIVAL_VOICES:
            raise SpeechSynthesisError(f"unknown festival voice {voice.voice!r} (known: {', '.join(FESTIVAL_VOICES)})")
        script = tmp / "text.txt"
        script.write_text(text + "\n", encoding="utf-8")
        # diphone voices stretch durations; the HTS engine takes a speed factor ("-r") instead
        speed = f"(set! hts_engine_params (append hts_engine_params (list (list \"-r\" {voice.rate / 150.0:.3f}))))"
        rate = speed if voice.voice.endswith("_hts") else f"(Parameter.set 'Duration_Stretch {stretch})"
        return ["text2wave", "-eval", f"(voice_{voice.voice})", "-eval", rate, "-o", str(out), str(script)]
    raise SpeechSynthesisError(f"unknown speech engine {voice.engine!r} (known: {', '.join(ENGINES)})")


def synthesize(text: str, voice: Voice, amplitude: int = 100) -> np.ndarray:
    """Speak ``text`` and return (N,) float32 samples at 16 kHz (the engine's own edge silence kept).

    ``amplitude`` is espeak's -a (100 = its default level); the other engines are scaled by amplitude / 100.
    """
    if voice.engine != "espeak-ng" and voice.engine not in available_engines():
        raise SpeechSynthesisError(f"speech engine {voice.engine!r} is not installed (Debian: see scripts/setup.sh)")
    with tempfile.TemporaryDirectory(prefix="dimgesture-tts-") as tmp:
        out = Path(tmp) / "speech.wav"
        cmd = _command(text, voice, amplitude, out, Path(tmp))
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0 or not out.exists():
            raise SpeechSynthesisError(f"{voice.engine} failed for voice {voice.name!r}: {proc.stderr.strip() or proc.returncode}")
        wave, rate = sf.read(out, dtype="float32", always_2d=True)
    wave = wave.mean(axis=1)
    if voice.engine != "espeak-ng":
        wave = wave * (amplitude / 100.0)
    if rate != SPEECH_SAMPLE_RATE:
        wave = soxr.resample(wave, rate, SPEECH_SAMPLE_RATE, quality="HQ")
    return np.ascontiguousarray(wave, dtype=np.float32)
