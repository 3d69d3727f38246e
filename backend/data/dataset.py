"""``GestureWindows``: overlapping training windows read from a ``dimgesture prepare`` cache.

Windows are cut at load time (not stored), so window length and overlap can change without
re-preparing. Shards are opened memory-mapped and lazily in each process (a DataLoader worker
never receives a copy of the data), and the motion is normalised with the cache's train stats.
``mirror=True`` adds a left/right mirrored copy of every window (the audio is unchanged).
``style_reference="other_window"`` gives every window a style reference cut from another,
non-overlapping window of the same take, so the style branch can only learn what the whole take
shares (the speaker's voice and habits), never this window's words: at generation the reference is
a different clip. ``style_reference="speaker"`` cuts it from another take of the speaker whose
habits the motion has (the cache's ``style_speaker`` labels, from ``make-corpus``): then the
reference is the only source of those habits in the corpus's style-swapped takes, and a take's
recording conditions cannot stand in for its speaker.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from ..motion.features import FeatureStats, num_features
from ..motion.skeleton import Skeleton
from ..training.config import STYLE_REFERENCES
from .prepare import FORMAT, FORMAT_VERSION, DatasetError, fit_frames

# Reflection x -> -x of a rotation matrix R is M R M with M = diag(-1, 1, 1): in the 6D layout
# [col0, col1] that negates col0's y, z and col1's x.
_SIX_D_SIGNS = np.array([1.0, -1.0, -1.0, -1.0, 1.0, 1.0], dtype=np.float32)
# root [vx, vz, height, yaw rate]: sideways velocity and turning change sign
_ROOT_SIGNS = np.array([-1.0, 1.0, 1.0, -1.0], dtype=np.float32)
_STYLE_PAIRING_SEED = 5717  # fixes which window serves as another window's style reference


def mirror_features(features: np.ndarray, skeleton: Skeleton) -> np.ndarray:
    """Pose features of the left/right mirrored motion (as ``Motion.mirror``), computed directly."""
    j = skeleton.num_joints
    x = np.asarray(features, dtype=np.float32)
    six = x[..., : 6 * j].reshape(x.shape[:-1] + (j, 6))[..., skeleton.mirror_map(), :] * _SIX_D_SIGNS
    root = x[..., 6 * j :] * _ROOT_SIGNS
    return np.concatenate([six.reshape(x.shape[:-1] + (6 * j,)), root], axis=-1)


def _natural(label: str) -> tuple:
    """Sort key that puts speaker "2" before "10" (labels are the corpus's roster indices, as text)."""
    return (0, int(label), "") if label.isdigit() else (1, 0, label)


def read_manifest(cache_dir: str | Path) -> dict:
    """The cache's manifest, checked for format and version (DatasetError naming the folder)."""
    path = Path(cache_dir) / "manifest.json"
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DatasetError(f"{cache_dir}: not a prepared cache (no manifest.json); run 'dimgesture prepare'") from None
    except (OSError, json.JSONDecodeError) as err:
        raise DatasetError(f"{path}: unreadable manifest ({err})") from None
    if manifest.get("format") != FORMAT or manifest.get("format_version") != FORMAT_VERSION:
        raise DatasetError(
            f"{path}: cache format {manifest.get('format')!r} version {manifest.get('format_version')!r} "
            f"is not {FORMAT!r} version {FORMAT_VERSION}; prepare the data again"
        )
    return manifest


class GestureWindows(Dataset):
    """Windows of ``window_frames`` motion frames every ``hop_frames`` over the takes of a split.

    Items: ``{"motion": (T, F) float32 normalised, "audio": (T_a, C) float32, "take": str,
    "start": int (first motion frame in the take), "mirrored": bool}`` with
    ``T_a = round(T * audio_rate / fps)``. The last window of a take is aligned to its end so
    no tail is lost; takes shorter than a window are left out (``skipped_takes``).
    ``window_frames=None`` gives one item per whole take (variable length: batch size 1).
    With ``style_reference`` "other_window" items also hold ``"style_audio"`` (T_a, C),
    ``"style_take"`` and ``"style_start"``: the audio of a window of the same take that does not
    overlap this one, picked by the item's index alone (so a resumed run sees the same pairs and the
    mirrored copy gets another partner); a take with no such window gives its farthest one. With
    "speaker" the window is from another take of the item's ``style_speaker`` (of this split; for
    "val" also of "train"), where the cache has one, else as with "other_window"; then items also
    hold ``"style_speaker"``, the number of the reference's speaker in ``speaker_ids``.
    """

    def __init__(self, cache_dir: str | Path, split: str, window_frames: int | None, hop_frames: int | None = None,
                 mirror: bool = False, style_reference: str = "same_window"):
        if split not in ("train", "val", "all"):
            raise ValueError(f"split must be 'train', 'val' or 'all', got {split!r}")
        self.cache_dir = Path(cache_dir)
        self.manifest = read_manifest(cache_dir)
        self.fps = float(self.manifest["fps"])
        self.audio_rate = float(self.manifest["frontend"]["frame_rate"])
        self.audio_dim = int(self.manifest["frontend"]["dim"])
        self.skeleton = Skeleton.from_dict(self.manifest["skeleton"])
        self.feature_dim = int(self.manifest["feature_dim"])
        if self.feature_dim != num_features(self.skeleton):
            raise DatasetError(f"{cache_dir}: feature_dim {self.feature_dim} does not fit the skeleton")
        self.stats = FeatureStats.load(self.cache_dir / self.manifest["stats"])
        self.window_frames = window_frames
        self.mirror = mirror
        if style_reference not in STYLE_REFERENCES:
            raise ValueError(f"style_reference must be one of {', '.join(STYLE_REFERENCES)}, got {style_reference!r}")
        if style_reference != "same_window" and window_frames is None:
            raise ValueError("a style reference from another window needs fixed-length windows")
        self.style_reference = style_reference
        hop = hop_frames or window_frames
        if window_frames is not None and (window_frames < 1 or hop < 1):
            raise ValueError(f"window and hop must be positive, got {window_frames}, {hop}")
        self.takes = [t for t in self.manifest["takes"] if split == "all" or t["split"] == split]
        self.skipped_takes = []
        self.windows: list[tuple[int, int, int]] = []  # (take index, start, frames)
        self.take_starts: dict[int, list[int]] = {}  # take index -> its window starts
        for i, take in enumerate(self.takes):
            n = take["motion_frames"]
            if window_frames is None:
                self.windows.append((i, 0, n))
            elif n < window_frames:
                self.skipped_takes.append(take["name"])
            else:
                starts = list(range(0, n - window_frames + 1, hop))
                if starts[-1] != n - window_frames:
                    starts.append(n - window_frames)
                self.windows += [(i, s, window_frames) for s in starts]
                self.take_starts[i] = starts
        # every speaker of the cache (not only this split's) numbered, so the ids agree across splits
        self.speaker_ids = {name: i for i, name in enumerate(sorted({t["speaker"] for t in self.manifest["takes"] if "speaker" in t}, key=_natural))}
        self.speaker_takes: dict[str, list[dict]] = {}  # speaker -> takes a reference may come from
        if style_reference == "speaker":
            sources = ("train", "val") if split == "val" else (split,)
            for take in self.manifest["takes"]:
                if "speaker" in take and (split == "all" or take["split"] in sources) and take["motion_frames"] >= window_frames:
                    self.speaker_takes.setdefault(take["speaker"], []).append(take)
        self._shards: dict[str, list[np.ndarray]] | None = None

    def __len__(self) -> int:
        return len(self.windows) * (2 if self.mirror else 1)

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_shards"] = None  # each process maps the files itself
        return state

    def _open(self) -> dict[str, list[np.ndarray]]:
        if self._shards is None:
            self._shards = {
                kind: [np.load(self.cache_dir / name, mmap_mode="r", allow_pickle=False) for name in names]
                for kind, names in self.manifest["shards"].items()
            }
        return self._shards

    def audio_frames(self, motion_frames: int) -> int:
        return int(round(motion_frames * self.audio_rate / self.fps))

    def _audio(self, take: dict, start: int, frames: int) -> np.ndarray:
        """The audio features under motion frames ``start .. start + frames`` of ``take``."""
        shards = self._open()
        a_start = min(self.audio_frames(start), take["audio_frames"])
        a_frames = self.audio_frames(frames)
        a0 = take["audio_start"] + a_start
        audio = np.array(shards["audio"][take["shard"]][a0 : a0 + min(a_frames, take["audio_frames"] - a_start)], dtype=np.float32)
        return fit_frames(audio, a_frames)  # rounding at the take's end: repeat the last frame

    def _style_start(self, index: int, take_i: int, start: int, frames: int) -> int:
        """A window start of the same take whose window does not overlap ``start``'s (else the farthest)."""
        starts = self.take_starts[take_i]
        apart = [s for s in starts if abs(s - start) >= frames]
        if not apart:
            return max(starts, key=lambda s: abs(s - start))
        return apart[int(np.random.default_rng((_STYLE_PAIRING_SEED, index)).integers(len(apart)))]

    def _speaker_reference(self, index: int, take: dict, frames: int) -> tuple[dict, int] | None:
        """(take, start) of a window from another take of ``take``'s style speaker, or None if there is none."""
        others = [t for t in self.speaker_takes.get(take.get("style_speaker"), []) if t["name"] != take["name"]]
        if not others:
            return None
        rng = np.random.default_rng((_STYLE_PAIRING_SEED, index))
        source = others[int(rng.integers(len(others)))]
        return source, int(rng.integers(source["motion_frames"] - frames + 1))

    def __getitem__(self, index: int) -> dict:
        if not 0 <= index < len(self):
            raise IndexError(index)
        mirrored = index >= len(self.windows)
        take_i, start, frames = self.windows[index % len(self.windows)]
        take = self.takes[take_i]
        m0 = take["motion_start"] + start
        motion = np.asarray(self._open()["motion"][take["shard"]][m0 : m0 + frames], dtype=np.float32)
        if mirrored:
            motion = mirror_features(motion, self.skeleton)
        item = {
            "motion": torch.from_numpy(self.stats.normalize(motion)),
            "audio": torch.from_numpy(self._audio(take, start, frames)),
            "take": take["name"],
            "start": start,
            "mirrored": mirrored,
        }
        if self.style_reference != "same_window":
            reference = self._speaker_reference(index, take, frames) if self.style_reference == "speaker" else None
            source, style_start = reference or (take, self._style_start(index, take_i, start, frames))
            item["style_audio"] = torch.from_numpy(self._audio(source, style_start, frames))
            item["style_take"] = source["name"]
            item["style_start"] = style_start
            if "speaker" in source:
                item["style_speaker"] = self.speaker_ids[source["speaker"]]
        return item
