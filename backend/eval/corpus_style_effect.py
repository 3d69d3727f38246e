"""Ground truth for style control: in the corpus itself, does the speaker move the motion more than the seed?

Why: a model cannot learn a style effect its corpus does not have. For a few speech tracks (the
corpus's own take plans, motion from their clean speech's prosody, made as the corpus makes it:
``takes.move_take``), every track is given the gesture style of each of the tracks' speakers and
two generator seeds. The figures are those of ``style_effect.style_and_seed_effect``, averaged
over every speaker pair and track: ``style`` = same speech and seed, speakers A vs B; ``seed`` =
same speech and speaker, seeds 0 vs 1.

``python -m backend.eval.corpus_style_effect [--tracks 4] [--seconds 12] [--seed 0]`` prints JSON.
"""

from __future__ import annotations

import argparse
import functools
import itertools
import json
import sys

import numpy as np

from ..audio import SPEECH_SAMPLE_RATE
from ..corpus import prosody, takes
from ..errors import DimGestureError
from .style_effect import style_and_seed_effect

MOTION_STREAM = 3  # the generator streams 0-2 of a take plan draw its length, speech and recording


def _synthesiser(plan: takes.TakePlan, placed: list[dict], pros: prosody.Prosody):
    """``(speech, seed, style_audio) -> Motion`` for ``style_and_seed_effect``: the track's motion in a speaker's style."""
    @functools.cache
    def move(voice, seed):
        rng = np.random.default_rng([plan.seed, plan.index, MOTION_STREAM, seed])
        return takes.move_take(plan, voice, placed, pros, rng)[0]

    return lambda _speech, seed, style_audio: move(style_audio, seed)


def corpus_style_effect(plans: list[takes.TakePlan]) -> dict[str, float]:
    """{"style_cm", "seed_cm", "ratio", "tracks", "pairs"} over the plans' tracks and their speakers' pairs."""
    tracks = []
    for plan in plans:
        wave, voice, placed, _ = takes.speak_take(plan)
        tracks.append((plan, voice, placed, prosody.analyse(wave, SPEECH_SAMPLE_RATE)))
    speakers = list(dict.fromkeys(voice for _, voice, _, _ in tracks))
    if len(speakers) < 2:
        raise DimGestureError(f"{len(plans)} track(s) with {len(speakers)} speaker(s): a style effect needs two speakers")
    effects = []
    for plan, _, placed, pros in tracks:
        synthesise = _synthesiser(plan, placed, pros)
        effects += [style_and_seed_effect(synthesise, plan, a, b) for a, b in itertools.combinations(speakers, 2)]
    style = float(np.mean([e["style_cm"] for e in effects]))
    seed = float(np.mean([e["seed_cm"] for e in effects]))
    return {"style_cm": round(style, 2), "seed_cm": round(seed, 2), "ratio": round(style / seed, 2),
            "tracks": len(tracks), "pairs": len(speakers) * (len(speakers) - 1) // 2}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=4, help="speech tracks, each with its own speaker (default 4)")
    parser.add_argument("--seconds", type=float, default=12.0, help="length of each track (default 12)")
    parser.add_argument("--seed", type=int, default=0, help="corpus seed of the take plans (default 0)")
    parser.add_argument("--fps", type=float, default=20.0, help="motion frame rate (default 20)")
    args = parser.parse_args(argv)
    plans = takes.plan_takes(args.seed, 0.0, (args.seconds, args.seconds), args.fps, takes=args.tracks)
    try:
        print(json.dumps(corpus_style_effect(plans)))
    except DimGestureError as err:
        print(f"corpus_style_effect: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
