"""Does the motion take the reference speaker's habits? Generated motion against each speaker's own corpus motion.

Why: a style strength above 1 only exaggerates whatever the style branch makes of a reference
clip, and ``style_effect`` only says that references change the motion, not toward what. Here each
reference clip is a take of a ``make-corpus`` corpus, whose JSON names its speaker; the same speech
clips are generated with each reference, measured with ``motion-stats``, and set beside the motion
of every corpus take gestured by that speaker (``style_speaker``). Across the speakers, the
correlation per statistic says how far each habit follows the reference:

``python -m backend.eval.style_follows --checkpoint DIR --corpus CORPUS SPEECH... --references TAKE.wav ...``

prints one JSON line per reference (speaker, its corpus motion's figures, the generated figures)
and a last line with the correlation per statistic (at least three speakers).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from ..corpus.takes import read_take_speakers
from .motion_stats import ROWS, iter_motions, motion_statistics


def take_speakers(corpus: Path) -> dict[str, tuple[str, str]]:
    """Take name -> (speaker of its voice, speaker of its gesturing habits), from the corpus's take JSON files."""
    found = {path.stem: read_take_speakers(path) for path in sorted(Path(corpus).glob("*.json"))}
    return {name: speakers for name, speakers in found.items() if speakers is not None}


def speaker_motion(corpus: Path, speakers: dict[str, tuple[str, str]], speaker: str) -> dict[str, float]:
    """``motion-stats`` figures of every corpus take gestured with ``speaker``'s habits."""
    files = [Path(corpus) / f"{name}.bvh" for name, (_, style) in speakers.items() if style == speaker]
    return motion_statistics(m for path in files for m in iter_motions(path))


def correlations(truth: list[dict[str, float]], generated: list[dict[str, float]]) -> dict[str, float | None]:
    """Pearson correlation per statistic between the speakers' own figures and the generated ones
    (None where either side does not vary: no correlation is defined)."""
    result: dict[str, float | None] = {}
    for row in ROWS:
        a, b = np.array([t[row] for t in truth]), np.array([g[row] for g in generated])
        result[row] = round(float(np.corrcoef(a, b)[0, 1]), 2) if a.std() > 0 and b.std() > 0 else None
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m backend.eval.style_follows", description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", required=True, help="model folder")
    parser.add_argument("--corpus", type=Path, required=True, help="make-corpus folder the reference takes come from")
    parser.add_argument("speech", nargs="+", type=Path, help="speech clips to animate")
    parser.add_argument("--references", nargs="+", type=Path, required=True,
                        help="reference clips: takes of the corpus by different speakers (at least three)")
    parser.add_argument("--style-strength", type=float, help="how strongly the reference clips are followed")
    args = parser.parse_args(argv)
    missing = [str(p) for p in (*args.speech, *args.references) if not p.is_file()]
    if missing:
        parser.error(f"no such file: {', '.join(missing)}")
    speakers = take_speakers(args.corpus)
    unknown = [str(p) for p in args.references if p.stem not in speakers]
    if unknown:
        parser.error(f"not a take of {args.corpus} (no take JSON naming its speaker): {', '.join(unknown)}")
    voices = [speakers[p.stem][0] for p in args.references]
    if len(set(voices)) < 3 or len(set(voices)) < len(voices):
        parser.error(f"--references needs at least three clips of different speakers; their speakers are {', '.join(voices)}")
    gestured = {style for _, style in speakers.values()}
    lacking = [f"{p.name} (speaker {v})" for p, v in zip(args.references, voices) if v not in gestured]
    if lacking:
        parser.error(f"no take of {args.corpus} is gestured with the habits of the speaker of {', '.join(lacking)}")
    from ..pipeline import GesturePipeline

    pipeline = GesturePipeline.from_pretrained(args.checkpoint)
    strength = {} if args.style_strength is None else {"style_scale": args.style_strength}
    truth, generated = [], []
    for reference, speaker in zip(args.references, voices):
        truth.append(speaker_motion(args.corpus, speakers, speaker))
        generated.append(motion_statistics(pipeline(speech, seed=0, style_audio=reference, **strength) for speech in args.speech))
        print(json.dumps({"reference": reference.name, "speaker": speaker, "speaker_motion": truth[-1],
                          "generated": generated[-1]}), flush=True)
    print(json.dumps({"correlation": correlations(truth, generated)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
