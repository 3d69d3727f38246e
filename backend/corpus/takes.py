"""``dimgesture make-corpus``: the procedural speech-gesture corpus (BVH + WAV pairs).

No real gesture data can be downloaded on our machines, so the default training data is made
here: real synthesised speech (espeak-ng, and flite and festival voices where installed; many
sentences, voices, rates, pitches and loudness, with pauses; recording conditions augmented) and motion on the default skeleton driven by that audio (``gestures``). Each take
is ``take_NNNNN.wav`` (16 kHz mono) + ``take_NNNNN.bvh`` + ``take_NNNNN.json`` (voice, style,
sentences, and the ground-truth stroke and nod times for the stroke-timing metric), i.e. the
generic "pairs" layout that ``dimgesture prepare --format pairs`` reads.

Every take is a pure function of (seed, take index), so a seed fixes every byte regardless of
the number of workers, and an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
from tqdm import tqdm

from ..audio import SPEECH_SAMPLE_RATE
from ..errors import DimGestureError
from ..fileio import atomic_path
from ..motion.bvh import write_bvh
from ..motion.skeleton import default_skeleton
from . import augment, gestures, prosody, sentences, speech

FORMAT = "dimgesture-corpus"
VERSION = 5  # 5: a roster of speakers, each heard in several takes; 4: gesture space, stroke sizes and torso sway calibrated to the real column; 3: speaker placement habits in the style, stroke prominence; 2: more voices, recorded audio
BVH_PRECISION = 6  # significant digits; 1e-4 degrees is far below any visible difference
SPEAKERS = 24  # default roster: about six takes per speaker in 1.5 hours
ROSTER_INDEX = 1_000_000  # the roster's generator keys sit above every take index
STYLE_SWAP = 0.5  # default share of takes gestured with another speaker's habits (style transfer examples)
SWAP_STREAM = 4  # generator stream of a take's style-swap draw (streams 0-3 draw its length, speech, recording, motion)


@dataclass(frozen=True)
class TakePlan:
    """What one take will be: its index fixes its content, its duration is drawn up front."""

    seed: int
    index: int
    duration: float  # seconds
    fps: float
    speakers: int = SPEAKERS  # size of the corpus's speaker roster; take i is spoken by speaker i mod speakers
    style_swap: float = STYLE_SWAP  # share of takes gestured with another roster speaker's habits

    @property
    def speaker(self) -> int:
        """Roster index of the speaker whose voice this take is."""
        return self.index % self.speakers

    @property
    def style_speaker(self) -> int:
        """Roster index of the speaker whose gesturing habits this take's motion has (another one in
        a ``style_swap`` share of takes: style transfer examples, whose reference must be that speaker's)."""
        rng = np.random.default_rng([self.seed, self.index, SWAP_STREAM])
        if self.speakers > 1 and rng.random() < self.style_swap:
            return (self.speaker + 1 + int(rng.integers(self.speakers - 1))) % self.speakers
        return self.speaker

    @property
    def name(self) -> str:
        return f"take_{self.index:05d}"


def plan_takes(seed: int, hours: float, take_seconds: tuple[float, float], fps: float, takes: int | None = None,
               speakers: int = SPEAKERS, style_swap: float = STYLE_SWAP) -> list[TakePlan]:
    """Takes of random length in ``take_seconds`` until ``hours`` are covered (or exactly ``takes``)."""
    lo, hi = take_seconds
    if not 0 < lo <= hi:
        raise DimGestureError(f"take length range must satisfy 0 < min <= max, got {take_seconds}")
    if speakers < 1:
        raise DimGestureError(f"the corpus needs at least one speaker, got --speakers {speakers}")
    if not 0.0 <= style_swap <= 1.0:
        raise DimGestureError(f"--style-swap is a share of takes between 0 and 1, got {style_swap}")
    plans: list[TakePlan] = []
    total = 0.0
    while (takes is None and total < hours * 3600.0) or (takes is not None and len(plans) < takes):
        index = len(plans)
        duration = round(float(np.random.default_rng([seed, index, 0]).uniform(lo, hi)), 2)
        plans.append(TakePlan(seed, index, duration, fps, speakers, style_swap))
        total += duration
    return plans


# share of takes per engine; an engine that is not installed falls back to espeak-ng
ENGINE_SHARES = {"espeak-ng": 0.45, "flite": 0.25, "festival": 0.30}
# festival's voices keep their own pitch: a nominal espeak-like pitch for the speaker style
_FESTIVAL_PITCH = {"kal_diphone": 35, "ked_diphone": 30, "cmu_us_slt_arctic_hts": 65}


def _voice(rng: np.random.Generator, engines: tuple[str, ...]) -> speech.Voice:
    """A speaker: every draw is made whatever is installed, so the take's other draws do not shift."""
    u = rng.random()
    voice = speech.VOICES[int(rng.integers(len(speech.VOICES)))]
    variant = speech.VARIANTS[int(rng.integers(len(speech.VARIANTS)))]
    rate, pitch = int(rng.integers(130, 211)), int(rng.integers(20, 81))
    flite_voice = speech.FLITE_VOICES[int(rng.integers(len(speech.FLITE_VOICES)))]
    festival_voice = list(speech.FESTIVAL_VOICES)[int(rng.integers(len(speech.FESTIVAL_VOICES)))]
    edges = np.cumsum(list(ENGINE_SHARES.values()))
    engine = list(ENGINE_SHARES)[int(np.searchsorted(edges, u * edges[-1], side="right"))]
    if engine == "flite" and "flite" in engines:
        return speech.Voice(flite_voice, "", rate, pitch, engine="flite")
    if engine == "festival" and "festival" in engines and festival_voice in speech.festival_voices():
        return speech.Voice(festival_voice, "", rate, _FESTIVAL_PITCH[festival_voice], engine="festival")
    return speech.Voice(voice, variant, rate, pitch)


@functools.cache
def speaker_roster(seed: int, count: int, engines: tuple[str, ...]) -> tuple[speech.Voice, ...]:
    """The corpus's ``count`` speakers: distinct voices (engine voice + variant, base rate and pitch) fixed by the seed.

    Why: a style reference can only teach the model a speaker's habits if that speaker is heard in
    several takes, as in real corpora (BEAT: 30 speakers, hours each). Until corpus version 5 every
    take drew its own voice from 135, so almost every held-out speaker was new and the habits that
    ``gestures.style_for`` fixes per voice could not be learnt: they came out as variation between seeds.
    """
    voices: dict[str, speech.Voice] = {}
    for i in range(50 * count):
        voice = _voice(np.random.default_rng([seed, ROSTER_INDEX + i, 1]), engines)
        voices.setdefault(voice.name, voice)
        if len(voices) == count:
            return tuple(voices.values())
    raise DimGestureError(f"--speakers {count}: only {len(voices)} distinct voices can be made with {', '.join(engines)}")


def _roster_voice(plan: TakePlan, speaker: int) -> speech.Voice:
    """Roster speaker ``speaker``'s voice in ``plan``'s corpus."""
    return speaker_roster(plan.seed, plan.speakers, speech.available_engines())[speaker]


def _take_voice(plan: TakePlan, rng: np.random.Generator) -> speech.Voice:
    """The take's speaker from the roster (in turn), its rate and pitch varied a little as one person's are between takes."""
    speaker = _roster_voice(plan, plan.speaker)
    rate = int(np.clip(speaker.rate + rng.integers(-8, 9), 120, 220))
    pitch = int(np.clip(speaker.pitch + rng.integers(-4, 5), 0, 99))
    return dataclasses.replace(speaker, rate=rate, pitch=speaker.pitch if speaker.engine == "festival" else pitch)


def _speech_track(plan: TakePlan, voice: speech.Voice, rng: np.random.Generator) -> tuple[np.ndarray, list[dict]]:
    """Sentences separated by pauses (some long, so the model learns to rest), padded to the take length."""
    sr = SPEECH_SAMPLE_RATE
    total = int(round(plan.duration * sr))
    wave = np.zeros(total, dtype=np.float32)
    pos = int(rng.uniform(0.4, 1.2) * sr)
    tail = int(0.3 * sr)
    placed: list[dict] = []
    while True:
        for _ in range(10):  # near the end, look for a sentence short enough to fit
            text, amplitude = sentences.sentence(rng), int(rng.integers(55, 116))
            clip = speech.synthesize(text, voice, amplitude)
            if pos + len(clip) + tail <= total:
                break
        else:
            room = total - tail - pos
            if placed or room <= 0:
                break
            clip = clip[:room] * np.linspace(1.0, 0.0, room, dtype=np.float32) ** 0.1  # a tiny take: cut with a fade
        clip *= min(1.0, 0.98 / max(float(np.abs(clip).max()), 1e-9))
        wave[pos : pos + len(clip)] = clip
        placed.append({"start": pos / sr, "end": (pos + len(clip)) / sr, "text": text, "amplitude": amplitude})
        pause = rng.uniform(1.5, 3.5) if rng.random() < 0.25 else rng.uniform(0.25, 1.0)
        pos += len(clip) + int(pause * sr)
    wave += rng.normal(0.0, 10 ** (-65 / 20), total).astype(np.float32)  # a quiet noise floor, not digital silence
    return wave, placed


def speak_take(plan: TakePlan):
    """The speech of a take: (wave at 16 kHz, voice, placed sentences, the take's generator after speaking)."""
    rng = np.random.default_rng([plan.seed, plan.index, 1])
    voice = _take_voice(plan, rng)
    wave, placed = _speech_track(plan, voice, rng)
    return wave, voice, placed, rng


def make_take(plan: TakePlan):
    """(wave at 16 kHz, Motion, metadata dict) for one planned take."""
    wave, voice, placed, rng = speak_take(plan)
    pros = prosody.analyse(wave, SPEECH_SAMPLE_RATE)  # the motion follows the clean speech ...
    gesturer = voice if plan.style_speaker == plan.speaker else _roster_voice(plan, plan.style_speaker)
    motion, meta = move_take(plan, voice, placed, pros, rng, gesturer)
    mask = np.zeros(len(wave), dtype=bool)
    for s in placed:
        mask[int(s["start"] * SPEECH_SAMPLE_RATE) : int(s["end"] * SPEECH_SAMPLE_RATE)] = True
    heard, meta["augmentation"] = augment.augment(  # ... and the model hears it as recorded
        wave, SPEECH_SAMPLE_RATE, np.random.default_rng([plan.seed, plan.index, 2]), mask)
    return heard, motion, meta


def read_take_speakers(path: Path) -> tuple[str, str] | None:
    """(speaker, style_speaker) as a take's JSON written by ``move_take`` names them; None for any other file.

    Why here: ``prepare`` (speaker labels for training) and the style evaluations read them, and only
    the corpus knows its own format."""
    try:
        meta = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT or "speaker" not in meta:
        return None
    return str(meta["speaker"]), str(meta.get("style_speaker", meta["speaker"]))


def move_take(plan: TakePlan, voice: speech.Voice, placed: list[dict], pros: prosody.Prosody, rng: np.random.Generator,
              gesturer: speech.Voice | None = None):
    """(Motion, metadata dict) of a take from its speech's prosody: the motion half of ``make_take``.

    The motion has the habits of ``gesturer``'s voice (default: the speaking ``voice``)."""
    gesturer = gesturer or voice
    style = gestures.style_for(gesturer)
    strokes = gestures.plan_strokes(pros, style, rng)
    motion = gestures.synthesize_motion(default_skeleton(), pros, style, strokes, plan.duration, plan.fps, rng)
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "name": plan.name,
        "seed": plan.seed,
        "index": plan.index,
        "duration": plan.duration,
        "sample_rate": SPEECH_SAMPLE_RATE,
        "fps": plan.fps,
        "speaker": plan.speaker,
        "voice": dataclasses.asdict(voice),
        "style_speaker": plan.style_speaker,
        "style_voice": dataclasses.asdict(gesturer),
        "style": style.to_dict(),
        "sentences": placed,
        "strokes": [{"time": round(s.time, 4), "hand": s.hand, "amplitude": round(s.amplitude, 4), "kind": s.kind,
                     "prominence": round(s.prominence, 4)} for s in strokes],
        "nods": [{"time": round(float(t), 4), "strength": round(float(a), 4)} for t, a in zip(pros.accents, pros.accent_strength)],
        "stressed_onsets": [round(float(t), 4) for t in pros.onsets[pros.stressed]],
    }
    return motion, meta


def _take_done(out: Path, name: str) -> bool:
    return all((out / f"{name}{ext}").exists() for ext in (".wav", ".bvh", ".json"))


def write_take(out: Path, plan: TakePlan) -> float:
    """Write the three files of a take (the JSON last, marking it complete); returns its duration."""
    if _take_done(out, plan.name):
        return plan.duration
    wave, motion, meta = make_take(plan)
    base = out / plan.name
    with atomic_path(f"{base}.wav") as tmp:
        sf.write(tmp, wave, SPEECH_SAMPLE_RATE, subtype="PCM_16")
    write_bvh(f"{base}.bvh", motion, precision=BVH_PRECISION)
    with atomic_path(f"{base}.json") as tmp:
        tmp.write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
    return plan.duration


def _write_take_job(job: tuple[str, TakePlan]) -> float:
    return write_take(Path(job[0]), job[1])


class CorpusVersionError(DimGestureError):
    """A folder holds takes written by another version of the corpus code."""


def check_resumable(out: Path, plans: list[TakePlan]) -> None:
    """Refuse to add takes to a folder whose complete takes another corpus version wrote.

    Why: complete takes are kept when ``make-corpus`` runs again, so a folder of older takes would
    silently become a mix of two gesture models.
    """
    for plan in plans:
        meta = Path(out) / f"{plan.name}.json"
        if _take_done(Path(out), plan.name):
            version = json.loads(meta.read_text(encoding="utf-8")).get("version")
            if version != VERSION:
                raise CorpusVersionError(
                    f"{meta}: written by corpus version {version}, this code writes version {VERSION}; "
                    "write the new corpus into another folder (or delete this one)")


def make_corpus(out: Path, plans: list[TakePlan], workers: int = 1, progress: bool = True) -> None:
    """Write every planned take into ``out`` (created), with a progress bar over seconds of audio."""
    speech.espeak_path()  # fail early with a clear message
    out = Path(out)
    check_resumable(out, plans)
    out.mkdir(parents=True, exist_ok=True)
    total = sum(p.duration for p in plans)
    bar = tqdm(total=round(total), unit="s", desc="make-corpus", disable=not progress)
    jobs = [(str(out), p) for p in plans]
    if workers <= 1:
        results = map(_write_take_job, jobs)
        for seconds in results:
            bar.update(round(seconds))
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            for seconds in pool.map(_write_take_job, jobs, chunksize=1):
                bar.update(round(seconds))
    bar.close()
    summary = {
        "format": FORMAT,
        "version": VERSION,
        "seed": plans[0].seed if plans else None,
        "fps": plans[0].fps if plans else None,
        "hours": round(total / 3600.0, 4),
        "engines": list(speech.available_engines()),
        "speakers": plans[0].speakers if plans else None,
        "style_swap": plans[0].style_swap if plans else None,
        "takes": [p.name for p in plans],
    }
    (out / "corpus.json").write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("out", type=Path, help="output folder (created); takes already complete there are kept")
    parser.add_argument("--hours", type=float, default=2.0, help="total audio to produce (default 2)")
    parser.add_argument("--takes", type=int, default=None, help="exact number of takes (overrides --hours)")
    parser.add_argument("--take-seconds", type=float, nargs=2, default=(20.0, 60.0), metavar=("MIN", "MAX"),
                        help="range of take lengths in seconds (default 20 60)")
    parser.add_argument("--speakers", type=int, default=SPEAKERS,
                        help=f"speakers in the corpus, each with its own voice and gesturing habits, taking turns (default {SPEAKERS})")
    parser.add_argument("--style-swap", type=float, default=STYLE_SWAP, metavar="SHARE",
                        help="share of takes gestured with another speaker's habits, so that a model learns to take "
                             f"the habits from a style reference clip (default {STYLE_SWAP})")
    parser.add_argument("--seed", type=int, default=0, help="the same seed writes the same files")
    parser.add_argument("--fps", type=float, default=30.0, help="BVH frame rate (prepare resamples; default 30)")
    parser.add_argument("--workers", type=int, default=1, help="parallel processes (default 1)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    plans = plan_takes(args.seed, args.hours, tuple(args.take_seconds), args.fps, args.takes, args.speakers, args.style_swap)
    make_corpus(args.out, plans, workers=args.workers, progress=not args.quiet)
    total = sum(p.duration for p in plans)
    print(f"wrote {len(plans)} takes, {total / 3600.0:.2f} h of speech and motion, to {args.out}")
    return 0
