"""Carry a prepared procedural-corpus cache to a GPU machine in a few tens of MB, and rebuild it there.

Why: the cache of a 1.5 h corpus is ~300 MB (motion features dominate), far over what can be sent
to a rented GPU machine, and that machine has no espeak-ng. Its motion is a pure function of each
take's prosody and random generator, so ``pack`` keeps the audio features (float16), the
manifest and stats, and per take the prosody arrays and the generator state after speaking;
``unpack`` re-synthesises the motion with ``corpus.move_take`` and writes the motion shards.

    python scripts/device_cache.py pack data/corpus data/cache-demo .devcarry/cache-packed
    python scripts/device_cache.py unpack .devcarry/cache-packed data/cache-demo
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from backend.data import corpus, prosody, speech  # noqa: E402
from backend.motion.features import motion_to_features  # noqa: E402

_ARRAYS = ("loudness_db", "speech", "f0", "onsets", "onset_loudness_db", "stress", "stressed", "accents", "accent_strength")


def pack(corpus_dir: Path, cache: Path, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    manifest = json.loads((cache / "manifest.json").read_text())
    shutil.copy(cache / "manifest.json", out / "manifest.json")
    shutil.copy(cache / "stats.npz", out / "stats.npz")
    for shard in sorted({t["shard"] for t in manifest["takes"]}):
        audio = np.load(cache / f"audio-{shard:05d}.npy")
        np.save(out / f"audio-{shard:05d}.npy", audio.astype(np.float16))
    arrays, takes = {}, {}
    for take in manifest["takes"]:
        name = take["name"]
        meta = json.loads((corpus_dir / f"{Path(name).name}.json").read_text())
        plan = corpus.TakePlan(meta["seed"], meta["index"], meta["duration"], meta["fps"])
        wave, voice, placed, rng = corpus.speak_take(plan)
        pros = prosody.analyse(wave, speech.SAMPLE_RATE)
        for field in _ARRAYS:
            arrays[f"{name}/{field}"] = getattr(pros, field)
        takes[name] = {"plan": [plan.seed, plan.index, plan.duration, plan.fps], "voice": meta["voice"],
                       "placed": placed, "rng": rng.bit_generator.state}
    np.savez_compressed(out / "prosody.npz", **arrays)
    (out / "takes.json").write_text(json.dumps(takes))


def unpack(packed: Path, cache: Path) -> None:
    cache.mkdir(parents=True, exist_ok=True)
    manifest = json.loads((packed / "manifest.json").read_text())
    for name in ("manifest.json", "stats.npz"):
        shutil.copy(packed / name, cache / name)
    takes = json.loads((packed / "takes.json").read_text())
    arrays = np.load(packed / "prosody.npz")
    shards: dict[int, np.ndarray] = {}
    for take in manifest["takes"]:
        shard = take["shard"]
        if shard not in shards:
            rows = max(t["motion_start"] + t["motion_frames"] for t in manifest["takes"] if t["shard"] == shard)
            shards[shard] = np.zeros((rows, manifest["feature_dim"]), dtype=np.float32)
            np.save(cache / f"audio-{shard:05d}.npy", np.load(packed / f"audio-{shard:05d}.npy").astype(np.float32))
        info = takes[take["name"]]
        plan = corpus.TakePlan(*info["plan"])
        pros = prosody.Prosody(hop=prosody.HOP_SECONDS, **{f: arrays[f"{take['name']}/{f}"] for f in _ARRAYS})
        rng = np.random.default_rng()
        rng.bit_generator.state = info["rng"]
        motion, _ = corpus.move_take(plan, speech.Voice(**info["voice"]), info["placed"], pros, rng)
        feats = motion_to_features(motion)[: take["motion_frames"]]
        shards[shard][take["motion_start"] : take["motion_start"] + len(feats)] = feats
    for shard, motion in shards.items():
        np.save(cache / f"motion-{shard:05d}.npy", motion)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="verb", required=True)
    p = sub.add_parser("pack")
    p.add_argument("corpus", type=Path)
    p.add_argument("cache", type=Path)
    p.add_argument("out", type=Path)
    u = sub.add_parser("unpack")
    u.add_argument("packed", type=Path)
    u.add_argument("cache", type=Path)
    args = parser.parse_args()
    if args.verb == "pack":
        pack(args.corpus, args.cache, args.out)
    else:
        unpack(args.packed, args.cache)
    return 0


if __name__ == "__main__":
    sys.exit(main())
