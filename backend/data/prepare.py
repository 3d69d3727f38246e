"""``dimgesture prepare``: cache pose and audio-frontend features of a BVH + WAV dataset.

Training reads windows out of this cache thousands of times, so the expensive parts (BVH
parsing, resampling, pose features, the frozen audio frontend) run once here. The cache is the
contract of docs/ARCHITECTURE.md "Dataset cache": ``manifest.json``, float32 shards
``motion-NNNNN.npy`` (frames, F) and ``audio-NNNNN.npy`` (frames, C) read with
``np.load(mmap_mode="r")``, and ``stats.npz`` (mean, std of the train split's motion features).

Inputs: ZEGGS (its ``clean/`` folder, 60 fps BVH), BEAT (per-speaker folders, 120 fps BVH,
16 kHz WAV) or any folder of same-named BVH + WAV pairs (searched recursively). A file that is
unpaired, unreadable, on another skeleton, NaN, or whose audio and motion lengths differ by more
than ``--max-mismatch`` seconds is skipped and listed by name with the reason, never used.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..audio import SPEECH_SAMPLE_RATE
from ..corpus.takes import read_take_speakers
from ..errors import DimGestureError
from ..fileio import atomic_path

FORMAT = "dimgesture-cache"
FORMAT_VERSION = 1
STATS_FILE = "stats.npz"
STD_FLOOR = 1e-2  # as FeatureStats.from_features: constant features must not blow up


class DatasetError(DimGestureError):
    """A dataset folder cannot be prepared, or a cache folder cannot be read."""

    kind = "dataset"


@dataclass(frozen=True)
class Pair:
    name: str  # relative path without extension, "/"-separated: the take's name
    bvh: Path
    wav: Path


def speaker_labels(pair: Pair) -> dict[str, str]:
    """``{"speaker", "style_speaker"}`` from a ``make-corpus`` take's JSON beside its BVH, else ``{}``.

    Why: training may draw a take's style reference from another take of the speaker whose habits
    its motion has (``data.style_reference: "speaker"``); only the corpus knows who that is.
    """
    speakers = read_take_speakers(pair.bvh.with_suffix(".json"))
    return {} if speakers is None else {"speaker": speakers[0], "style_speaker": speakers[1]}


def find_pairs(src: Path, fmt: str) -> tuple[list[Pair], list[tuple[str, str]]]:
    """Same-stem BVH + WAV pairs under the folder for ``fmt``; unpaired files as (file, reason)."""
    src = Path(src)
    if not src.is_dir():
        raise DatasetError(f"{src}: not a folder")
    root = src
    if fmt == "zeggs" and (src / "clean").is_dir():
        root = src / "clean"
    files: dict[str, dict[str, Path]] = {}
    for path in sorted(root.rglob("*")):
        ext = path.suffix.lower()
        if path.is_file() and ext in (".bvh", ".wav"):
            files.setdefault(path.relative_to(root).with_suffix("").as_posix(), {})[ext] = path
    pairs, skipped = [], []
    for name, found in sorted(files.items()):
        if ".bvh" in found and ".wav" in found:
            pairs.append(Pair(name, found[".bvh"], found[".wav"]))
        else:
            have, lack = (".bvh", ".wav") if ".bvh" in found else (".wav", ".bvh")
            skipped.append((str(found[have]), f"no matching {lack} file"))
    if not pairs:
        raise DatasetError(f"{root}: no BVH + WAV pairs with the same name found" + (f" ({len(skipped)} unpaired files)" if skipped else ""))
    return pairs, skipped


def target_skeleton(first_bvh_skeleton):
    """The default 75-joint layout (with this data's offsets) when the names match it, else the data's own.

    Rotations are relative to the rest pose the offsets define, so the offsets must be the
    data's own; only the joint order is taken from the default skeleton.
    """
    from ..motion.skeleton import Skeleton, default_skeleton

    default = default_skeleton()
    names = first_bvh_skeleton.names
    if set(default.names) <= set(names):
        order = [names.index(n) for n in default.names]
        parent_names = [None if p < 0 else names[p] for p in first_bvh_skeleton.parents[order]]
        expected = [None if p < 0 else default.names[p] for p in default.parents]
        if parent_names == expected:
            return Skeleton(default.names, default.parents, first_bvh_skeleton.offsets[order], default.rest_rotations)
    return first_bvh_skeleton


def _map_motion(motion, skeleton, source: str):
    """``motion`` on ``skeleton``: joints picked by name; raises DatasetError when they differ."""
    from ..motion.motion import Motion

    names = motion.skeleton.names
    missing = [n for n in skeleton.names if n not in names]
    if missing:
        raise DatasetError(f"{source}: skeleton differs from the dataset's (missing joints {missing[:5]})")
    order = [names.index(n) for n in skeleton.names]
    parents = [None if p < 0 else names[p] for p in motion.skeleton.parents[order]]
    expected = [None if p < 0 else skeleton.names[p] for p in skeleton.parents]
    if parents != expected:
        raise DatasetError(f"{source}: joint hierarchy differs from the dataset's skeleton")
    # joints left out have no kept descendants (their children's parents would differ), so
    # dropping them changes nothing in the kept joints' motion
    return Motion(motion.fps, skeleton, motion.rotations[:, order], motion.root_positions)


def load_take(pair: Pair, skeleton_dict: dict | None, fps: float, max_mismatch: float):
    """(features (T, F) float32, wave (N,) float32 at 16 kHz) of one pair, trimmed to a common length.

    Raises DimGestureError (or a subclass) whose message names the file and the problem.
    """
    from ..audio import load_audio
    from ..motion.bvh import read_bvh
    from ..motion.features import motion_to_features
    from ..motion.skeleton import Skeleton

    try:
        motion = read_bvh(pair.bvh).to_motion()
    except DimGestureError:
        raise
    except (ValueError, OSError, UnicodeDecodeError) as err:
        raise DatasetError(f"{pair.bvh}: unreadable BVH ({err})") from None
    if skeleton_dict is not None:
        motion = _map_motion(motion, Skeleton.from_dict(skeleton_dict), str(pair.bvh))
    if motion.num_frames < 2:
        raise DatasetError(f"{pair.bvh}: has {motion.num_frames} frame(s)")
    wave = load_audio(pair.wav, SPEECH_SAMPLE_RATE)
    audio_seconds = len(wave) / SPEECH_SAMPLE_RATE
    motion_seconds = motion.num_frames / motion.fps
    if abs(audio_seconds - motion_seconds) > max_mismatch:
        raise DatasetError(
            f"{pair.bvh.name} / {pair.wav.name}: length mismatch, audio {audio_seconds:.2f} s vs motion "
            f"{motion_seconds:.2f} s (more than {max_mismatch:g} s apart)"
        )
    features = motion_to_features(motion.resample(fps))
    if not np.all(np.isfinite(features)):
        raise DatasetError(f"{pair.bvh}: pose features contain NaN or infinite values")
    frames = min(len(features), int(np.floor(audio_seconds * fps + 1e-6)))
    if frames < 1:
        raise DatasetError(f"{pair.wav}: too short for one motion frame")
    samples = int(round(frames / fps * SPEECH_SAMPLE_RATE))
    return features[:frames], wave[:samples]


def _load_job(job):
    pair, skeleton_dict, fps, max_mismatch = job
    try:
        return load_take(pair, skeleton_dict, fps, max_mismatch), None
    except DimGestureError as err:
        return None, str(err)


class FrontendRunner:
    """Runs the frozen frontend over a take in fixed chunks, giving exactly ``seconds * frame_rate`` frames."""

    def __init__(self, cfg, chunk_seconds: float, device: str):
        import torch

        from ..model.frontends import build_frontend

        self.torch = torch
        self.device = device
        self.frontend = build_frontend(cfg).to(device).eval()
        self.frame_rate = float(self.frontend.frame_rate)
        self.dim = int(self.frontend.dim)
        hop = SPEECH_SAMPLE_RATE / self.frame_rate
        self.chunk = max(1, int(round(chunk_seconds * self.frame_rate))) * hop  # whole frames per chunk

    def __call__(self, wave: np.ndarray) -> np.ndarray:
        torch = self.torch
        total = int(round(len(wave) * self.frame_rate / SPEECH_SAMPLE_RATE))
        pieces = []
        start = 0.0
        while int(round(start)) < len(wave):
            a, b = int(round(start)), int(round(start + self.chunk))
            piece = wave[a:b]
            with torch.inference_mode():
                out = self.frontend(torch.from_numpy(np.ascontiguousarray(piece))[None].to(self.device))[0]
            want = int(round(len(piece) * self.frame_rate / SPEECH_SAMPLE_RATE))
            pieces.append(fit_frames(out.float().cpu().numpy(), want))
            start += self.chunk
        return fit_frames(np.concatenate(pieces, axis=0), total)


def fit_frames(x: np.ndarray, frames: int) -> np.ndarray:
    """Trim, or repeat the last frame, to exactly ``frames`` rows (frontends differ by ±1 at edges)."""
    if len(x) >= frames:
        return x[:frames]
    pad = np.repeat(x[-1:] if len(x) else np.zeros((1, x.shape[1]), x.dtype), frames - len(x), axis=0)
    return np.concatenate([x, pad], axis=0)


class _ShardWriter:
    """Appends takes to float32 shards, starting a new shard past ``max_bytes`` of motion."""

    def __init__(self, out: Path, max_bytes: int):
        self.out, self.max_bytes = out, max_bytes
        self.index, self.motion, self.audio = 0, [], []
        self.motion_frames = self.audio_frames = 0
        self.files: dict[str, list[str]] = {"motion": [], "audio": []}

    def add(self, motion: np.ndarray, audio: np.ndarray) -> dict:
        if self.motion and (self.motion_frames + len(motion)) * motion.shape[1] * 4 > self.max_bytes:
            self.flush()
        entry = {"shard": self.index, "motion_start": self.motion_frames, "motion_frames": len(motion),
                 "audio_start": self.audio_frames, "audio_frames": len(audio)}
        self.motion.append(motion.astype(np.float32))
        self.audio.append(audio.astype(np.float32))
        self.motion_frames += len(motion)
        self.audio_frames += len(audio)
        return entry

    def flush(self) -> None:
        if not self.motion:
            return
        for kind, parts in (("motion", self.motion), ("audio", self.audio)):
            name = f"{kind}-{self.index:05d}.npy"
            with atomic_path(self.out / name) as tmp, open(tmp, "wb") as f:
                np.save(f, np.concatenate(parts, axis=0))
            self.files[kind].append(name)
        self.index += 1
        self.motion, self.audio = [], []
        self.motion_frames = self.audio_frames = 0


def split_takes(names: list[str], val_fraction: float, seed: int) -> dict[str, str]:
    """Deterministic train/val split by take: a seeded permutation of the sorted names."""
    names = sorted(names)
    count = 0
    if val_fraction > 0 and len(names) >= 2:
        count = min(len(names) - 1, max(1, int(round(val_fraction * len(names)))))
    val = set(np.asarray(names)[np.random.default_rng(seed).permutation(len(names))[:count]].tolist())
    return {n: "val" if n in val else "train" for n in names}


def train_stats(out: Path, manifest: dict):
    """Mean and std of the train split's motion features, streamed from the shards in float64."""
    from ..motion.features import FeatureStats

    total = 0
    s = np.zeros(manifest["feature_dim"])
    ss = np.zeros(manifest["feature_dim"])
    shards = [np.load(out / f, mmap_mode="r") for f in manifest["shards"]["motion"]]
    for take in manifest["takes"]:
        if take["split"] != "train":
            continue
        x = np.asarray(shards[take["shard"]][take["motion_start"] : take["motion_start"] + take["motion_frames"]], np.float64)
        total += len(x)
        s += x.sum(0)
        ss += (x * x).sum(0)
    if total == 0:
        raise DatasetError(f"{out}: no training frames to compute statistics from")
    mean = s / total
    std = np.sqrt(np.maximum(ss / total - mean * mean, 0.0))
    return FeatureStats(mean, np.maximum(std, STD_FLOOR))


def prepare(
    src: Path, out: Path, fmt: str = "pairs", fps: float = 20.0, frontend=None, val_fraction: float = 0.1,
    frontend_chunk_seconds: float = 20.0, max_mismatch: float = 2.0, seed: int = 0, workers: int = 1,
    device: str = "cpu", shard_mb: float = 256.0, progress: bool = True,
) -> dict:
    """Build the cache in ``out`` and return its manifest (``frontend`` is a FrontendConfig; mel by default)."""
    from ..model.config import FrontendConfig
    from ..motion.bvh import read_bvh
    from ..motion.features import num_features

    if fmt not in ("zeggs", "beat", "pairs"):
        raise DatasetError(f"unknown dataset format {fmt!r} (zeggs, beat or pairs)")
    if not fps > 0:
        raise DatasetError(f"--fps must be positive, got {fps}")
    frontend = frontend or FrontendConfig()
    pairs, skipped = find_pairs(src, fmt)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)

    # the dataset's skeleton: from the first readable BVH
    skeleton = None
    for pair in pairs:
        try:
            skeleton = target_skeleton(read_bvh(pair.bvh).skeleton())
            break
        except DimGestureError:
            continue  # reported below when the take itself is loaded
    if skeleton is None:
        raise DatasetError(f"{src}: none of the {len(pairs)} BVH files could be read")

    runner = FrontendRunner(frontend, frontend_chunk_seconds, device)
    writer = _ShardWriter(out, int(shard_mb * 2**20))
    takes = []
    skeleton_dict = skeleton.to_dict()
    jobs = [(p, skeleton_dict, fps, max_mismatch) for p in pairs]
    bar = tqdm(total=len(jobs), unit="take", desc="prepare", disable=not progress)
    # spawn, not fork: this process has torch threads running (the frontend)
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) if workers > 1 else None
    try:
        results = pool.map(_load_job, jobs, chunksize=1) if pool else map(_load_job, jobs)
        for pair, (loaded, error) in zip(pairs, results):
            bar.update(1)
            if error is not None:
                skipped.append((str(pair.bvh), error))
                continue
            features, wave = loaded
            audio = runner(wave)
            takes.append({"name": pair.name, **speaker_labels(pair), **writer.add(features, audio)})
    finally:
        if pool:
            pool.shutdown()
        bar.close()
    writer.flush()
    if not takes:
        raise DatasetError(f"{src}: every take was skipped:\n" + "\n".join(f"  {f}: {r}" for f, r in skipped))
    split = split_takes([t["name"] for t in takes], val_fraction, seed)
    for take in takes:
        take["split"] = split[take["name"]]
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "fps": float(fps),
        "frontend": {"config": dataclasses.asdict(frontend), "frame_rate": runner.frame_rate, "dim": runner.dim},
        "skeleton": skeleton.to_dict(),
        "feature_dim": num_features(skeleton),
        "stats": STATS_FILE,
        "frontend_chunk_seconds": float(frontend_chunk_seconds),
        "source": {"path": str(Path(src).resolve()), "format": fmt},
        "shards": writer.files,
        "takes": takes,
        "skipped": [{"file": f, "reason": r} for f, r in skipped],
    }
    train_stats(out, manifest).save(out / STATS_FILE)
    with atomic_path(out / "manifest.json") as tmp:
        tmp.write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return manifest


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("src", type=Path, help="dataset folder (ZEGGS root or clean/, BEAT root, or a folder of pairs)")
    parser.add_argument("out", type=Path, help="cache folder to write")
    parser.add_argument("--format", choices=("zeggs", "beat", "pairs"), default="pairs", dest="fmt")
    parser.add_argument("--fps", type=float, default=20.0, help="motion frame rate of the cache (default 20)")
    parser.add_argument("--frontend", choices=("mel", "wavlm"), default="mel")
    parser.add_argument("--wavlm", type=str, default=None, help="WavLM folder (or hub id) for --frontend wavlm")
    parser.add_argument("--wavlm-layer", type=int, default=12, help="WavLM hidden layer to cache (default 12)")
    parser.add_argument("--n-mels", type=int, default=80)
    parser.add_argument("--val-fraction", type=float, default=0.1, help="share of takes held out for validation")
    parser.add_argument("--frontend-chunk-seconds", "--window-seconds", dest="frontend_chunk_seconds", type=float,
                        default=20.0, help="the frontend runs over each clip in chunks of this length (bounds memory; "
                        "the training crop is the run config's data.train_window_seconds); --window-seconds is its "
                        "old, deprecated name")
    parser.add_argument("--max-mismatch", type=float, default=2.0, help="max audio/motion length difference in seconds")
    parser.add_argument("--seed", type=int, default=0, help="seed of the train/val split")
    parser.add_argument("--workers", type=int, default=1, help="processes reading BVH + WAV files")
    parser.add_argument("--device", default="auto", help="frontend device: auto (cuda if available), cpu, cuda, cuda:N")
    parser.add_argument("--shard-mb", type=float, default=256.0, help="motion shard size in MiB")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def _frontend_config(args):
    from ..model.config import FrontendConfig

    if args.frontend == "mel":
        return FrontendConfig(kind="mel", n_mels=args.n_mels)
    if not args.wavlm:
        raise DatasetError("--frontend wavlm needs --wavlm PATH (a local WavLM folder)")
    from transformers import WavLMConfig

    dim = WavLMConfig.from_pretrained(args.wavlm).hidden_size
    return FrontendConfig(kind="wavlm", wavlm_path=args.wavlm, wavlm_layer=args.wavlm_layer, wavlm_dim=dim)


def run(args: argparse.Namespace) -> int:
    from ..loading import resolve_device

    device = resolve_device(args.device)
    manifest = prepare(
        args.src, args.out, args.fmt, args.fps, _frontend_config(args), args.val_fraction, args.frontend_chunk_seconds,
        args.max_mismatch, args.seed, args.workers, device, args.shard_mb, progress=not args.quiet,
    )
    takes = manifest["takes"]
    frames = sum(t["motion_frames"] for t in takes)
    n_val = sum(t["split"] == "val" for t in takes)
    print(f"cached {len(takes)} takes ({len(takes) - n_val} train, {n_val} val), "
          f"{frames / manifest['fps'] / 3600:.2f} h at {manifest['fps']:g} fps, in {args.out}")
    if manifest["skipped"]:
        print(f"skipped {len(manifest['skipped'])} file(s):")
        for item in manifest["skipped"]:
            print(f"  {item['file']}: {item['reason']}")
    return 0
