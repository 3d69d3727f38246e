"""Does a model gesture *with* the speech? Wrist speed while speaking vs in pauses.

Why this check: the demo model's promise is "hands move during speech and rest in silence".
Frames are voiced when the clip's short-time energy is within ``threshold_db`` of its loud
frames (held for ``hold_seconds`` so that gaps between words count as speech); the figure is
the ratio of the mean wrist speed in voiced frames to that in silent frames (>1: moves with
speech). ``beat_alignment`` (backend.eval.beats) adds whether movement minima fall on onsets.

``python -m backend.eval.demo_check --checkpoint DIR CLIP...`` prints one JSON line per clip
(with generation time and real-time factor), then the peak memory; a clip with a matching
``.bvh`` beside it is also measured on that ground-truth motion.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np
from scipy.ndimage import maximum_filter1d

from ..audio import SPEECH_SAMPLE_RATE
from ..motion.motion import Motion
from .beats import audio_onsets, beat_alignment, motion_beats
from .evaluate import WRISTS

__all__ = ["voiced_frames", "wrist_speed", "speech_motion_figures"]

def voiced_frames(wave: np.ndarray, sample_rate: int, fps: float, frames: int,
                  threshold_db: float = -30.0, hold_seconds: float = 0.25) -> np.ndarray:
    """(frames,) bool: frame energy within ``threshold_db`` of the clip's 95th-percentile energy."""
    hop = sample_rate / fps
    edges = np.round(np.arange(frames + 1) * hop).astype(int).clip(0, len(wave))
    energy = np.array([np.mean(np.square(wave[a:b], dtype=np.float64)) if b > a else 0.0 for a, b in zip(edges[:-1], edges[1:])])
    level = 10.0 * np.log10(np.maximum(energy, 1e-12))
    loud = level > np.percentile(level, 95) + threshold_db
    hold = max(1, int(round(hold_seconds * fps)))
    return maximum_filter1d(loud.astype(np.uint8), size=2 * hold + 1).astype(bool)


def wrist_speed(motion: Motion, pos: np.ndarray | None = None) -> np.ndarray:
    """(T,) mean speed of both wrists in cm/s (central differences, world space; ``pos``: FK done)."""
    pos = motion.world_positions() if pos is None else pos
    wrists = pos[:, [motion.skeleton.index(n) for n in WRISTS]]
    return np.linalg.norm(np.gradient(wrists, axis=0), axis=-1).mean(axis=1) * motion.fps


def speech_motion_figures(motion: Motion, wave: np.ndarray, sample_rate: int = SPEECH_SAMPLE_RATE) -> dict[str, float]:
    """Wrist speed voiced / silent (cm/s and ratio), share of voiced frames, beat alignment."""
    pos = motion.world_positions()
    speed = wrist_speed(motion, pos)
    voiced = voiced_frames(wave, sample_rate, motion.fps, motion.num_frames)
    upper = [motion.skeleton.index(n) for n in ("RightArm", "RightForeArm", "RightHand", "LeftArm", "LeftForeArm", "LeftHand")]
    v = float(speed[voiced].mean()) if voiced.any() else float("nan")
    s = float(speed[~voiced].mean()) if (~voiced).any() else float("nan")
    return {
        "seconds": round(motion.num_frames / motion.fps, 2),
        "voiced_share": round(float(voiced.mean()), 3),
        "wrist_speed_voiced": round(v, 2),
        "wrist_speed_silent": round(s, 2),
        "ratio": round(v / s, 2) if s > 0 else float("inf"),
        "beat_alignment": round(beat_alignment(motion_beats(pos[:, upper], motion.fps), audio_onsets(wave, sample_rate)), 3),
    }


def main(argv: list[str] | None = None) -> int:
    import torch

    from ..audio import load_audio
    from ..pipeline import GesturePipeline
    from ..motion.bvh import read_bvh

    parser = argparse.ArgumentParser(prog="python -m backend.eval.demo_check", description=__doc__.split("\n\n")[0])
    parser.add_argument("clips", nargs="+", type=Path)
    parser.add_argument("--checkpoint", help="model folder (default: the bundled demo)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--sampler", default=None)
    parser.add_argument("--threads", type=int, default=0, help="PyTorch CPU threads (0: default)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    pipe = GesturePipeline.from_pretrained(args.checkpoint, "cpu")
    for clip in args.clips:
        wave = load_audio(clip)
        started = time.perf_counter()
        motion = pipe(wave, seed=args.seed, steps=args.steps, sampler=args.sampler)
        seconds = time.perf_counter() - started
        row = {"clip": str(clip), "generate_seconds": round(seconds, 2), "real_time_factor": round(len(wave) / SPEECH_SAMPLE_RATE / seconds, 1),
               "model": speech_motion_figures(motion, wave)}
        truth = clip.with_suffix(".bvh")
        if truth.is_file():
            row["ground_truth"] = speech_motion_figures(read_bvh(truth).to_motion().resample(motion.fps), wave)
        print(json.dumps(row), flush=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"peak_rss_mb": round(peak), "threads": torch.get_num_threads()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
