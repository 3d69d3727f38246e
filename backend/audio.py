"""Loading and validating speech clips: any soundfile format -> mono float32 at 16 kHz.

Why here and strict: a bad clip (missing, empty, corrupt, NaN, absurd rate, too long) must stop
with a message naming the file and the problem before any model time is spent. A clip of pure
silence is valid: it yields a resting pose.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from backend.errors import AudioError

if TYPE_CHECKING:
    import numpy as np

__all__ = ["load_audio", "check_waveform", "SPEECH_SAMPLE_RATE", "MIN_RATE", "MAX_RATE"]

# Hz: what both frontends (log-mel, WavLM) take; every clip is resampled to it. numpy, soundfile and soxr
# are imported where a clip is read, so that the model config and argument parsing can use this constant
# without them (``dimgesture generate --help`` stays quick).
SPEECH_SAMPLE_RATE = 16000

MIN_RATE = 4000
MAX_RATE = 384000


def load_audio(path: str | Path, sample_rate: int = SPEECH_SAMPLE_RATE, max_seconds: float | None = None) -> np.ndarray:
    """The clip at ``path`` as a mono float32 array at ``sample_rate`` Hz (channels averaged)."""
    import numpy as np
    import soundfile as sf
    import soxr

    path = Path(path)
    if not path.exists():
        raise AudioError(f"{path}: file not found")
    if path.is_dir():
        raise AudioError(f"{path}: is a folder, not an audio file")
    if path.stat().st_size == 0:
        raise AudioError(f"{path}: file is empty (0 bytes)")
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as err:
        raise AudioError(f"{path}: cannot be read as audio (unsupported format or corrupt file: {err})") from None
    if not MIN_RATE <= info.samplerate <= MAX_RATE:
        raise AudioError(
            f"{path}: sample rate {info.samplerate} Hz is outside the supported {MIN_RATE}-{MAX_RATE} Hz"
        )
    if info.frames <= 0:
        raise AudioError(f"{path}: contains no samples")
    if max_seconds is not None and info.frames / info.samplerate > max_seconds:
        raise AudioError(
            f"{path}: is {info.frames / info.samplerate:.1f} s long; the maximum is {max_seconds:g} s"
        )
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as err:
        raise AudioError(f"{path}: cannot be decoded (corrupt or truncated file: {err})") from None
    wave = data.mean(axis=1, dtype=np.float32)
    check_waveform(wave, str(path))
    if rate != sample_rate:
        wave = soxr.resample(wave, rate, sample_rate, quality="HQ").astype(np.float32, copy=False)
    return wave


def check_waveform(wave: np.ndarray, source: str = "waveform") -> np.ndarray:
    """Validate an in-memory mono waveform (1-D, non-empty, finite); returns it as float32."""
    import numpy as np

    wave = np.asarray(wave)
    if wave.ndim != 1:
        raise AudioError(f"{source}: expected a mono waveform (1-D array), got shape {wave.shape}")
    if wave.size == 0:
        raise AudioError(f"{source}: contains no samples")
    if not np.issubdtype(wave.dtype, np.floating):
        raise AudioError(f"{source}: samples must be floating point in [-1, 1], got dtype {wave.dtype}")
    wave = wave.astype(np.float32, copy=False)
    if not np.isfinite(wave).all():
        raise AudioError(f"{source}: contains NaN or infinite samples")
    return wave
