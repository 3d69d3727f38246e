"""``dimgesture eval``: generate gestures for held-out speech and score them against the real motion.

Why a separate step from training: the numbers the paper argues with (FGD, beat alignment,
diversity) need many generated samples and the real motion side by side, on speech the model
never saw. ``--data`` is a dataset cache (its ``val`` takes; the speech and motion are read
from the cache's source folder) or a folder of BVH + WAV pairs such as the procedural corpus,
whose JSON sidecars give ground-truth stroke times. The same metrics are computed for the real
motion too, as the reference a model should approach; there FGD and FD compare the real motion
of the odd clips with that of the even clips: the floor that differences between clips give.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from ..audio import SPEECH_SAMPLE_RATE
from ..errors import DimGestureError
from ..model.config import SAMPLERS
from ..motion.features import features_to_motion, motion_to_features
from ..motion.motion import Motion
from .beats import BEAT_SIGMA, audio_onsets, beat_alignment, motion_beats
from .metrics import (
    diversity,
    frechet_distance,
    kinematic_stats,
    match_events,
    root_relative_positions,
    speed_peaks,
)

WRISTS = ("RightHand", "LeftHand")
STROKE_TOLERANCE = 0.1  # seconds


@dataclass
class Take:
    """One held-out clip: speech at 16 kHz, its real motion and (procedural corpus) stroke times."""

    name: str
    wave: np.ndarray
    motion: Motion
    strokes: np.ndarray | None


def load_takes(data: Path, skeleton, fps: float, max_takes: int | None = None, max_mismatch: float = 0.5) -> list[Take]:
    """Held-out takes from a cache (its ``val`` split) or from a folder of BVH + WAV pairs (all)."""
    from ..data.prepare import find_pairs, load_take

    data = Path(data)
    if (data / "manifest.json").is_file():
        from ..data.dataset import read_manifest

        manifest = read_manifest(data)
        source = Path(manifest["source"]["path"])
        names = [t["name"] for t in manifest["takes"] if t["split"] == "val"]
        if not names:
            raise DimGestureError(f"{data}: the cache has no val takes to evaluate on")
        pairs = {p.name: p for p in find_pairs(source, manifest["source"]["format"])[0]}
        missing = [n for n in names if n not in pairs]
        if missing:
            raise DimGestureError(f"{source}: source files of val takes are missing ({', '.join(missing[:5])})")
        chosen = [pairs[n] for n in names]
    else:
        chosen = find_pairs(data, "pairs")[0]
    takes = []
    for pair in chosen[:max_takes]:
        features, wave = load_take(pair, skeleton.to_dict(), fps, max_mismatch)
        sidecar = pair.wav.with_suffix(".json")
        strokes = None
        if sidecar.is_file():
            try:
                strokes = np.array([s["time"] for s in json.loads(sidecar.read_text())["strokes"]], dtype=np.float64)
            except (KeyError, TypeError, ValueError) as err:
                raise DimGestureError(f"{sidecar}: unreadable stroke list ({err})") from None
        takes.append(Take(pair.name, wave, features_to_motion(features, skeleton, fps), strokes))
    return takes


def motion_metrics(
    generated: Sequence[Sequence[Motion]],
    waves: Sequence[np.ndarray] | None = None,
    strokes: Sequence[np.ndarray | None] | None = None,
    reference: Sequence[Motion] | None = None,
    fgd_scorer=None,
    stroke_tolerance: float = STROKE_TOLERANCE,
) -> dict[str, float]:
    """All metrics of one set of motions: ``generated[i]`` holds the samples for clip ``i``.

    ``reference`` (one motion per clip: the real motion, or another sampler's output) enables the
    Fréchet distances; ``waves`` (16 kHz) beat alignment; ``strokes`` (times per clip) the stroke
    timing; ``fgd_scorer`` (``FGDScorer``) the autoencoder FGD. Missing inputs leave keys out.
    """
    fps = generated[0][0].fps
    pos = [[m.world_positions() for m in group] for group in generated]
    rel = [[root_relative_positions(p) for p in group] for group in pos]
    flat = [p for group in pos for p in group]
    out: dict[str, float] = {}
    if reference is not None:
        real = np.concatenate([root_relative_positions(m.world_positions()) for m in reference])
        out["fd_positions"] = frechet_distance(real, np.concatenate([r for group in rel for r in group]))
        if fgd_scorer is not None:
            out["fgd"] = fgd_scorer.distance(
                [motion_to_features(m) for m in reference], [motion_to_features(m) for g in generated for m in g]
            )
    if waves is not None:
        onsets = [audio_onsets(w, SPEECH_SAMPLE_RATE) for w in waves]
        scores = [beat_alignment(motion_beats(p, fps), onsets[i]) for i, group in enumerate(pos) for p in group]
        out["beat_align"] = float(np.nanmean(scores)) if not all(math.isnan(s) for s in scores) else float("nan")
    div = diversity(rel)
    out["diversity_within"], out["diversity_across"] = div["within"], div["across"]
    kin = [kinematic_stats(p, fps) for p in flat]
    for key in kin[0]:
        out[key] = float(np.mean([k[key] for k in kin]))
    skeleton = generated[0][0].skeleton
    if strokes is not None and all(w in skeleton.names for w in WRISTS):
        wrists = [skeleton.index(w) for w in WRISTS]
        matched = detected = truth = 0
        errors = []
        for i, group in enumerate(pos):
            if strokes[i] is None:
                continue
            for p in group:
                r = match_events(speed_peaks(p, fps, wrists), strokes[i], stroke_tolerance)
                matched, detected, truth = matched + r["matched"], detected + r["detected"], truth + r["truth"]
                if r["matched"]:
                    errors.append(r["mean_abs_error"] * r["matched"])
        if truth:
            precision = matched / detected if detected else float("nan")
            recall = matched / truth
            out["stroke_precision"], out["stroke_recall"] = precision, recall
            out["stroke_f1"] = 2 * precision * recall / (precision + recall) if matched else 0.0
            out["stroke_mae"] = float(sum(errors) / matched) if matched else float("nan")
    return out


def format_table(columns: dict[str, dict[str, float]]) -> str:
    """Metrics as a plain-text table: one row per metric, one column per motion set."""
    keys = list(dict.fromkeys(k for col in columns.values() for k in col))
    names = list(columns)
    width = max([len(k) for k in keys] + [6])
    lines = [f"{'metric':<{width}}  " + "  ".join(f"{n:>14}" for n in names)]
    for k in keys:
        cells = [columns[n].get(k) for n in names]
        lines.append(f"{k:<{width}}  " + "  ".join(f"{'-' if c is None else f'{c:.4g}':>14}" for c in cells))
    return "\n".join(lines)


def json_safe(value):
    """``value`` with NaN / infinity replaced by None (strict JSON: undefined metrics become null)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", type=Path, help="model folder (default: the bundled demo model)")
    parser.add_argument("--data", type=Path, required=True, help="dataset cache (val takes) or folder of BVH + WAV pairs")
    parser.add_argument("--fgd", type=Path, help="FGD autoencoder folder from 'dimgesture train-fgd' (else FGD is skipped)")
    parser.add_argument("--samples", type=int, default=2, help="samples (seeds) per clip, for diversity (default 2)")
    parser.add_argument("--sampler", choices=SAMPLERS, help="sampler (default: the checkpoint's)")
    parser.add_argument("--steps", type=int, help="denoising steps (default: the checkpoint's)")
    parser.add_argument("--max-takes", type=int, default=8, help="evaluate at most this many clips (default 8)")
    parser.add_argument("--seed", type=int, default=0, help="first seed; sample k uses seed + k")
    parser.add_argument("--stroke-tolerance", type=float, default=STROKE_TOLERANCE, help="seconds (default 0.1)")
    parser.add_argument("-o", "--output", type=Path, help="write the report as JSON here")


def run(args: argparse.Namespace) -> int:
    from ..loading import default_checkpoint
    from ..pipeline import GesturePipeline
    from .fgd import FGDScorer

    if args.samples < 1 or args.max_takes < 1:
        raise DimGestureError("--samples and --max-takes must be at least 1")
    checkpoint = args.checkpoint or default_checkpoint()
    pipe = GesturePipeline.from_pretrained(checkpoint)
    scorer = FGDScorer.load(args.fgd) if args.fgd else None
    takes = load_takes(args.data, pipe.skeleton, pipe.fps, args.max_takes)
    sampler = args.sampler or pipe.scheduler.config.sampler
    steps = args.steps or pipe.scheduler.config.steps
    start = time.perf_counter()
    generated = []
    for take in takes:
        generated.append([pipe(take.wave, seed=args.seed + k, sampler=sampler, steps=steps) for k in range(args.samples)])
        print(f"eval: {take.name} ({take.motion.num_frames / take.motion.fps:.1f} s) x {args.samples}", flush=True)
    seconds = time.perf_counter() - start
    waves, strokes, real = [t.wave for t in takes], [t.strokes for t in takes], [t.motion for t in takes]
    has_strokes = any(s is not None for s in strokes)
    columns = {
        "generated": motion_metrics(generated, waves, strokes if has_strokes else None, real, scorer, args.stroke_tolerance),
        "ground_truth": motion_metrics([[m] for m in real], waves, strokes if has_strokes else None, None, None, args.stroke_tolerance),
    }
    if len(real) >= 2:  # the floor: real motion of the odd clips against that of the even clips
        floor = motion_metrics([[m] for m in real[1::2]], reference=real[::2], fgd_scorer=scorer)
        columns["ground_truth"].update({k: floor[k] for k in ("fd_positions", "fgd") if k in floor})
    print(format_table(columns))
    report = {
        "checkpoint": str(checkpoint),
        "data": str(args.data),
        "fgd": str(args.fgd) if args.fgd else None,
        "sampler": sampler,
        "steps": steps,
        "samples_per_clip": args.samples,
        "takes": [t.name for t in takes],
        "audio_seconds": float(sum(len(w) for w in waves) / SPEECH_SAMPLE_RATE),
        "generation_seconds": seconds,
        "beat_sigma": BEAT_SIGMA,
        "stroke_tolerance": args.stroke_tolerance,
        "metrics": columns,
    }
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(json_safe(report), indent=2, allow_nan=False) + "\n")
        print(f"wrote {args.output}")
    return 0
