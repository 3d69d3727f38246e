"""The speech the benchmarks feed the model: the bundled clip at any length, or a held-out take.

numpy and the audio loader are imported on call: the start-up probe imports this module before
it starts timing a cold process's imports.
"""

from __future__ import annotations

from pathlib import Path

from ...audio import SPEECH_SAMPLE_RATE
from .repo import REPO, shown

DEMO_SPEECH = REPO / "assets" / "demo_speech.wav"
DEMO_CACHE = REPO / "data" / "cache-demo"


def speech(seconds: float):
    """The bundled demo speech clip, looped or cut to ``seconds``, at the frontends' sample rate."""
    import numpy as np

    from ...audio import load_audio

    wave = load_audio(DEMO_SPEECH, SPEECH_SAMPLE_RATE)
    return np.resize(wave, int(round(seconds * SPEECH_SAMPLE_RATE))).astype(np.float32)


def default_data() -> Path | None:
    """The demo training cache, whose val takes the demo checkpoint never saw, if it is here."""
    return DEMO_CACHE if (DEMO_CACHE / "manifest.json").is_file() else None


def held_out_clip(data: Path | None, pipe, seconds: float):
    """(wave, real motion, stroke times, description) of the first held-out take of ``data``
    (a cache or corpus, see ``evaluate.load_takes``) cut to ``seconds``; the demo speech with no
    ground truth when ``data`` is None."""
    from ..evaluate import load_takes

    if data is None:
        return speech(seconds), None, None, f"{shown(DEMO_SPEECH)}, first {seconds:g} s (no ground truth)"
    take = load_takes(data, pipe.skeleton, pipe.fps, max_takes=1)[0]
    frames = min(int(round(seconds * take.motion.fps)), take.motion.num_frames)
    seconds = frames / take.motion.fps
    strokes = None if take.strokes is None else take.strokes[take.strokes < seconds]
    wave = take.wave[: int(round(seconds * SPEECH_SAMPLE_RATE))]
    return wave, take.motion.slice(0, frames), strokes, f"{data}: {take.name}, first {seconds:g} s (held out)"
