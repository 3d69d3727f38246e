"""Is style control audible? Same speech, two speakers' reference clips, against two seeds.

Why: a style branch that moves the result less than a change of seed does is not control. The
figure is the mean distance (cm) between corresponding joints of two generated motions, over
all joints and frames: ``style`` = same speech and seed, reference clips A vs B; ``seed`` = same
speech and reference clip, seeds 0 vs 1 (for both references, averaged).

``python -m backend.eval.style_effect --checkpoint DIR SPEECH STYLE_A STYLE_B`` prints JSON
(``--style-strength S`` as ``dimgesture generate``'s; default the checkpoint's).
"""

from __future__ import annotations

import argparse
import json
import sys

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("speech")
    parser.add_argument("style_a")
    parser.add_argument("style_b")
    parser.add_argument("--style-strength", type=float, help="how strongly the reference clips are followed")
    args = parser.parse_args(argv)
    from ..pipeline import GesturePipeline

    pipeline = GesturePipeline.from_pretrained(args.checkpoint)
    print(json.dumps(style_and_seed_effect(pipeline, args.speech, args.style_a, args.style_b, args.style_strength)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
