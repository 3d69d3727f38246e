"""Is style control audible? Same speech, two speakers' reference clips, against two seeds.

Why: a style branch that moves the result less than a change of seed does is not control. The
figure is the mean distance (cm) between corresponding joints of two generated motions, over
all joints and frames: ``style`` = same speech and seed, reference clips A vs B; ``seed`` = same
speech and reference clip, seeds 0 vs 1 (for both references, averaged).

One pair of references on one speech says little: across pairs of speakers the ratio of the same
model ranged from 0.26 to 1.2 on the demo checkpoint. So the command takes several speech clips and several pairs:
``python -m backend.eval.style_effect --checkpoint DIR SPEECH... --references A B [C D ...]``
prints one JSON line per speech and pair (A with B, C with D, ...) and a last line summarising them
(median, smallest, share above 1). ``--style-strength`` and ``--guidance`` as ``dimgesture
generate``'s (default the checkpoint's).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import numpy as np

from ..motion.motion import Motion


def mean_joint_distance(a: Motion, b: Motion) -> float:
    """Mean over frames and joints of the distance (cm) between the two motions' joint positions."""
    n = min(a.num_frames, b.num_frames)
    return float(np.linalg.norm(a.world_positions()[:n] - b.world_positions()[:n], axis=-1).mean())


def style_and_seed_effect(pipeline, speech, style_a, style_b, style_scale: float | None = None) -> dict[str, float]:
    """{"style_cm", "seed_cm", "ratio"} for one speech clip and two reference clips."""
    strength = {} if style_scale is None else {"style_scale": style_scale}  # any callable with the pipeline's signature
    runs = {(ref, seed): pipeline(speech, seed=seed, style_audio=clip, **strength)
            for ref, clip in (("a", style_a), ("b", style_b)) for seed in (0, 1)}
    style = np.mean([mean_joint_distance(runs["a", s], runs["b", s]) for s in (0, 1)])
    seed = np.mean([mean_joint_distance(runs[r, 0], runs[r, 1]) for r in ("a", "b")])
    return {"style_cm": round(float(style), 2), "seed_cm": round(float(seed), 2), "ratio": round(float(style / seed), 2)}


def summary(results: list[dict[str, float]]) -> dict[str, float]:
    """Median style and seed effects and ratio over many (speech, pair) runs, the smallest ratio,
    and the share of runs whose style effect exceeds their seed effect."""
    ratios = [r["ratio"] for r in results]
    return {
        "runs": len(results),
        "median_style_cm": round(statistics.median(r["style_cm"] for r in results), 2),
        "median_seed_cm": round(statistics.median(r["seed_cm"] for r in results), 2),
        "median_ratio": round(statistics.median(ratios), 2),
        "min_ratio": min(ratios),
        "share_above_1": round(sum(r > 1.0 for r in ratios) / len(ratios), 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m backend.eval.style_effect", description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", required=True, help="model folder")
    parser.add_argument("speech", nargs="+", type=Path, help="speech clips to animate")
    parser.add_argument("--references", nargs="+", type=Path, required=True,
                        help="reference clips of different speakers, taken in pairs: A B [C D ...]")
    parser.add_argument("--style-strength", type=float, help="how strongly the reference clips are followed")
    parser.add_argument("--guidance", type=float, help="classifier-free guidance scale on the audio")
    args = parser.parse_args(argv)
    if len(args.references) % 2:
        parser.error(f"--references takes pairs; got {len(args.references)} clips")
    missing = [str(p) for p in (*args.speech, *args.references) if not p.is_file()]
    if missing:
        parser.error(f"no such file: {', '.join(missing)}")
    from ..pipeline import GesturePipeline

    pipeline = GesturePipeline.from_pretrained(args.checkpoint)
    guided = {} if args.guidance is None else {"guidance_scale": args.guidance}

    def generate(speech, seed, style_audio, **kwargs):
        return pipeline(speech, seed=seed, style_audio=style_audio, **guided, **kwargs)

    results = []
    for a, b in zip(args.references[::2], args.references[1::2]):
        for speech in args.speech:
            result = style_and_seed_effect(generate, speech, a, b, args.style_strength)
            results.append(result)
            print(json.dumps({"speech": speech.name, "references": [a.name, b.name], **result}), flush=True)
    print(json.dumps({"summary": summary(results)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
