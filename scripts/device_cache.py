"""Carry a prepared procedural-corpus cache to a GPU machine in a few tens of MB, and rebuild it there.

Why: the cache of a 1.5 h corpus is ~300 MB (motion features dominate), far over what can be sent
to a rented GPU machine, and that machine has no espeak-ng. Its motion is a pure function of each
take's prosody and random generator, so ``pack`` keeps the audio features (float16), the
manifest and stats, and per take the prosody arrays and the generator state after speaking;
``unpack`` re-synthesises the motion with ``backend.corpus.takes.move_take`` and writes the motion shards.

    python scripts/device_cache.py pack data/corpus data/cache-demo .devcarry/cache-packed
    python scripts/device_cache.py unpack .devcarry/cache-packed data/cache-demo
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from backend.audio import SPEECH_SAMPLE_RATE  # noqa: E402
from backend.corpus import prosody, speech  # noqa: E402
from backend.corpus.takes import TakePlan, move_take, speak_take  # noqa: E402
from backend.data.prepare import train_stats  # noqa: E402
from backend.motion.features import motion_to_features  # noqa: E402

_ARRAYS = ("loudness_db", "speech", "f0", "onsets", "onset_loudness_db", "stress", "stressed", "accents", "accent_strength")


def _speak_again(job: tuple[str, Path]):
    """(clean prosody, what unpack needs) of one take: its speech is synthesised again, deterministically."""
    meta = json.loads(job[1].read_text())
    plan = TakePlan(meta["seed"], meta["index"], meta["duration"], meta["fps"])
    wave, voice, placed, rng = speak_take(plan)
    info = {"plan": [plan.seed, plan.index, plan.duration, plan.fps], "voice": meta["voice"],
            "placed": placed, "rng": rng.bit_generator.state}
    return prosody.analyse(wave, SPEECH_SAMPLE_RATE), info


def pack(corpus_dir: Path, cache: Path, out: Path, workers: int) -> None:
    out.mkdir(parents=True, exist_ok=True)
    manifest = json.loads((cache / "manifest.json").read_text())
    shutil.copy(cache / "manifest.json", out / "manifest.json")
    shutil.copy(cache / "stats.npz", out / "stats.npz")
    for shard in sorted({t["shard"] for t in manifest["takes"]}):
        audio = np.load(cache / f"audio-{shard:05d}.npy")
        with gzip.open(out / f"audio-{shard:05d}.npy.gz", "wb", compresslevel=6) as f:
            np.save(f, audio.astype(np.float16))
    arrays, takes = {}, {}
    jobs = [(t["name"], corpus_dir / f"{Path(t['name']).name}.json") for t in manifest["takes"]]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for (name, _), (pros, info) in zip(jobs, pool.map(_speak_again, jobs, chunksize=1)):
            for field in _ARRAYS:
                arrays[f"{name}/{field}"] = getattr(pros, field)
            takes[name] = info
    np.savez_compressed(out / "prosody.npz", **arrays)
    (out / "takes.json").write_text(json.dumps(takes))


def _take_features(job: tuple[str, dict, dict]) -> np.ndarray:
    """Motion features of one take, re-synthesised from its prosody and generator state."""
    name, info, arrays = job
    plan = TakePlan(*info["plan"])
    pros = prosody.Prosody(hop=prosody.HOP_SECONDS, **arrays)
    rng = np.random.default_rng()
    rng.bit_generator.state = info["rng"]
    motion, _ = move_take(plan, speech.Voice(**info["voice"]), info["placed"], pros, rng)
    return motion_to_features(motion)


def unpack(packed: Path, cache: Path, workers: int) -> None:
    cache.mkdir(parents=True, exist_ok=True)
    manifest = json.loads((packed / "manifest.json").read_text())
    for name in ("manifest.json", "stats.npz"):
        shutil.copy(packed / name, cache / name)
    takes = json.loads((packed / "takes.json").read_text())
    with np.load(packed / "prosody.npz") as data:
        arrays = {k: data[k] for k in data.files}
    jobs = [(t["name"], takes[t["name"]], {f: arrays[f"{t['name']}/{f}"] for f in _ARRAYS}) for t in manifest["takes"]]
    shards: dict[int, np.ndarray] = {}
    for shard in sorted({t["shard"] for t in manifest["takes"]}):
        rows = max(t["motion_start"] + t["motion_frames"] for t in manifest["takes"] if t["shard"] == shard)
        shards[shard] = np.zeros((rows, manifest["feature_dim"]), dtype=np.float32)
        with gzip.open(packed / f"audio-{shard:05d}.npy.gz", "rb") as f:
            np.save(cache / f"audio-{shard:05d}.npy", np.load(f).astype(np.float32))
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for take, feats in zip(manifest["takes"], pool.map(_take_features, jobs, chunksize=1)):
            feats = feats[: take["motion_frames"]]
            shards[take["shard"]][take["motion_start"] : take["motion_start"] + len(feats)] = feats
    for shard, motion in shards.items():
        np.save(cache / f"motion-{shard:05d}.npy", motion)
    train_stats(cache, manifest).save(cache / "stats.npz")  # of the motion as this code synthesises it


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="verb", required=True)
    p = sub.add_parser("pack")
    p.add_argument("corpus", type=Path)
    p.add_argument("cache", type=Path)
    p.add_argument("out", type=Path)
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    u = sub.add_parser("unpack")
    u.add_argument("packed", type=Path)
    u.add_argument("cache", type=Path)
    u.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    if args.verb == "pack":
        pack(args.corpus, args.cache, args.out, args.workers)
    else:
        unpack(args.packed, args.cache, args.workers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
