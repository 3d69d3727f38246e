"""Fréchet Gesture Distance: a small motion autoencoder whose latents the FGD compares.

Why our own: FGD (Yoon et al. 2020) needs an encoder trained on the motion representation in
use, and no pretrained one exists for our 75-joint 6D features. ``dimgesture train-fgd CACHE
-o OUT`` trains a 1D-conv autoencoder on fixed windows of normalised pose features from a
dataset cache and saves it as ``config.json`` + ``model.safetensors`` (+ the feature stats in
``stats.safetensors``), so generated and real motion are embedded identically later.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
from safetensors.torch import load_file
from torch import nn
from torch.utils.data import DataLoader, Dataset

from ..checkpoint import save_tensors, write_json
from ..errors import CheckpointError, DimGestureError
from ..motion.features import FeatureStats
from .metrics import frechet_distance

FORMAT_VERSION = 1


@dataclass
class FGDConfig:
    """Shape of the autoencoder; ``window`` frames must be a multiple of 4 (two stride-2 convs)."""

    feature_dim: int
    window: int = 40
    channels: int = 128
    latent: int = 32
    fps: float = 20.0

    def validate(self) -> "FGDConfig":
        if self.window < 4 or self.window % 4:
            raise ValueError(f"FGD window must be a positive multiple of 4 frames, got {self.window}")
        if min(self.feature_dim, self.channels, self.latent) < 1:
            raise ValueError(f"FGD dims must be positive: {asdict(self)}")
        return self


class MotionAutoencoder(nn.Module):
    """``(B, window, F)`` → latent ``(B, latent)`` → reconstruction ``(B, window, F)``."""

    def __init__(self, cfg: FGDConfig):
        super().__init__()
        self.cfg = cfg.validate()
        c, reduced = cfg.channels, cfg.window // 4
        act = lambda: nn.LeakyReLU(0.2)  # noqa: E731
        self.encoder = nn.Sequential(
            nn.Conv1d(cfg.feature_dim, c, 3, padding=1), act(),
            nn.Conv1d(c, c, 4, stride=2, padding=1), act(),
            nn.Conv1d(c, c // 2, 4, stride=2, padding=1), act(),
            nn.Flatten(), nn.Linear(c // 2 * reduced, cfg.latent),
        )  # fmt: skip
        self.decoder = nn.Sequential(
            nn.Linear(cfg.latent, c // 2 * reduced), nn.Unflatten(1, (c // 2, reduced)), act(),
            nn.ConvTranspose1d(c // 2, c, 4, stride=2, padding=1), act(),
            nn.ConvTranspose1d(c, c, 4, stride=2, padding=1), act(),
            nn.Conv1d(c, cfg.feature_dim, 3, padding=1),
        )  # fmt: skip

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x.transpose(1, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encode(x)).transpose(1, 2)


def sliding_windows(features: np.ndarray, window: int, hop: int) -> np.ndarray:
    """``(T, F)`` → ``(N, window, F)`` windows every ``hop`` frames (none when T < window)."""
    features = np.asarray(features, dtype=np.float32)
    if features.shape[0] < window:
        return np.zeros((0, window, features.shape[1]), dtype=np.float32)
    starts = range(0, features.shape[0] - window + 1, hop)
    return np.stack([features[s : s + window] for s in starts])


def _batches(windows, batch_size: int, generator: torch.Generator | None = None) -> DataLoader:
    """Batches ``(B, window, F)`` of any indexable set of windows (an array or a Dataset), shuffled
    when a generator is given; streamed, so a large cache never sits in memory at once."""
    collate = lambda items: torch.stack([torch.as_tensor(np.asarray(x, dtype=np.float32)) for x in items])  # noqa: E731
    return DataLoader(windows, batch_size=batch_size, shuffle=generator is not None, generator=generator, collate_fn=collate)


def train_autoencoder(
    windows,
    cfg: FGDConfig,
    *,
    epochs: int = 20,
    batch_size: int = 64,
    lr: float = 1e-3,
    seed: int = 0,
    progress: Callable[[int, float], None] | None = None,
) -> tuple[MotionAutoencoder, list[float]]:
    """Train on normalised ``(window, F)`` windows (an ``(N, window, F)`` array or a Dataset of
    them) with an L1 reconstruction loss (as Yoon et al.).

    Returns the model (eval mode) and the mean training loss of each epoch.
    """
    shape = tuple(np.shape(windows[0])) if len(windows) else None
    if shape != (cfg.window, cfg.feature_dim):
        raise ValueError(f"expected a non-empty set of ({cfg.window}, {cfg.feature_dim}) windows, got {len(windows)} of {shape}")
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = MotionAutoencoder(cfg)
    optimiser = torch.optim.AdamW(model.parameters(), lr=lr)
    history = []
    for epoch in range(epochs):
        model.train()
        total = 0.0
        for batch in _batches(windows, batch_size, generator):
            loss = (model(batch) - batch).abs().mean()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            total += loss.item() * len(batch)
        history.append(total / len(windows))
        if progress:
            progress(epoch + 1, history[-1])
    return model.eval(), history


@torch.no_grad()
def reconstruction_l1(model: MotionAutoencoder, windows, batch_size: int = 256) -> float:
    """Mean absolute reconstruction error over a set of normalised windows."""
    total = sum((model(batch) - batch).abs().mean().item() * len(batch) for batch in _batches(windows, batch_size))
    return total / len(windows)


class FGDScorer:
    """A trained autoencoder plus the feature statistics it was trained with."""

    def __init__(self, model: MotionAutoencoder, stats: FeatureStats):
        self.model = model.eval()
        self.stats = stats

    @property
    def cfg(self) -> FGDConfig:
        return self.model.cfg

    def embed(self, features: Sequence[np.ndarray], hop: int | None = None) -> np.ndarray:
        """Latents ``(N, latent)`` of all windows of raw (unnormalised) ``(T, F)`` feature clips."""
        window = self.cfg.window
        hop = hop or window // 2
        chunks = []
        for clip in features:
            if clip.ndim != 2 or clip.shape[1] != self.cfg.feature_dim:
                raise ValueError(f"FGD: expected (frames, {self.cfg.feature_dim}) features, got {clip.shape}")
            chunks.append(sliding_windows(self.stats.normalize(clip), window, hop))
        windows = np.concatenate(chunks) if chunks else np.zeros((0, window, self.cfg.feature_dim), np.float32)
        with torch.no_grad():
            return self.model.encode(torch.from_numpy(windows)).double().numpy() if len(windows) else np.zeros((0, self.cfg.latent))

    def distance(self, real: Sequence[np.ndarray], generated: Sequence[np.ndarray]) -> float:
        """FGD between two collections of raw feature clips (each needs ≥ 2 windows in total)."""
        a, b = self.embed(real), self.embed(generated)
        if len(a) < 2 or len(b) < 2:
            raise DimGestureError(
                f"FGD needs at least 2 windows of {self.cfg.window} frames on each side, got {len(a)} real and {len(b)} generated"
            )
        return frechet_distance(a, b)

    def save(self, folder: str | Path, extra: dict | None = None) -> None:
        """Write ``config.json``, ``model.safetensors`` and ``stats.safetensors`` (each atomically)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().contiguous() for k, v in self.model.state_dict().items()}
        save_tensors(folder / "model.safetensors", state)
        stats = {"mean": torch.from_numpy(self.stats.mean.copy()), "std": torch.from_numpy(self.stats.std.copy())}
        save_tensors(folder / "stats.safetensors", stats)
        meta = {"format_version": FORMAT_VERSION, "kind": "fgd-autoencoder", "config": asdict(self.cfg), **(extra or {})}
        write_json(folder / "config.json", meta)

    @classmethod
    def load(cls, folder: str | Path) -> "FGDScorer":
        folder = Path(folder)
        try:
            meta = json.loads((folder / "config.json").read_text())
        except (OSError, json.JSONDecodeError) as err:
            raise CheckpointError(f"{folder / 'config.json'}: cannot read the FGD autoencoder config ({err})") from err
        if meta.get("kind") != "fgd-autoencoder" or meta.get("format_version") != FORMAT_VERSION:
            raise CheckpointError(f"{folder}: not an FGD autoencoder of format {FORMAT_VERSION} (got {meta.get('kind')!r}, {meta.get('format_version')!r})")
        try:
            model = MotionAutoencoder(FGDConfig(**meta["config"]))
            model.load_state_dict(load_file(str(folder / "model.safetensors")))
            stats = load_file(str(folder / "stats.safetensors"))
        except (OSError, KeyError, TypeError, ValueError, RuntimeError) as err:
            raise CheckpointError(f"{folder}: cannot load the FGD autoencoder ({err})") from err
        try:
            return cls(model, FeatureStats(stats["mean"].numpy(), stats["std"].numpy()))
        except (KeyError, ValueError) as err:
            raise CheckpointError(f"{folder / 'stats.safetensors'}: bad feature statistics ({err})") from err


class _MotionWindows(Dataset):
    """The normalised motion of ``GestureWindows`` (50 % overlap), without the audio."""

    def __init__(self, cache: Path, split: str, window: int):
        from ..data.dataset import GestureWindows

        self.windows = GestureWindows(cache, split, window, window // 2)

    def __len__(self) -> int:
        return len(self.windows)

    def __getitem__(self, index: int) -> torch.Tensor:
        return self.windows[index]["motion"]


def _cache_stats(cache: Path) -> tuple[FeatureStats, float]:
    from ..data.dataset import read_manifest

    manifest = read_manifest(cache)
    try:
        return FeatureStats.load(cache / manifest["stats"]), float(manifest["fps"])
    except (OSError, KeyError, ValueError) as err:
        raise DimGestureError(f"{cache}: unreadable feature statistics ({err})") from err


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("cache", type=Path, help="dataset cache folder written by 'dimgesture prepare'")
    parser.add_argument("-o", "--out", type=Path, required=True, help="output folder for the autoencoder")
    parser.add_argument("--window", type=int, default=40, help="window length in frames (multiple of 4; default 40 = 2 s at 20 fps)")
    parser.add_argument("--latent", type=int, default=32, help="latent size (default 32)")
    parser.add_argument("--channels", type=int, default=128, help="conv channels (default 128)")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)


def run(args: argparse.Namespace) -> int:
    stats, fps = _cache_stats(args.cache)
    cfg = FGDConfig(feature_dim=int(stats.mean.shape[-1]), window=args.window, channels=args.channels, latent=args.latent, fps=fps)
    try:
        cfg.validate()
    except ValueError as err:
        raise DimGestureError(str(err)) from err
    train = _MotionWindows(args.cache, "train", cfg.window)
    if len(train) == 0:
        raise DimGestureError(f"{args.cache}: no training windows of {cfg.window} frames in the train split")
    print(f"train-fgd: {len(train)} windows of {cfg.window} frames x {cfg.feature_dim} features", flush=True)
    model, history = train_autoencoder(
        train, cfg, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, seed=args.seed,
        progress=lambda e, loss: print(f"epoch {e}/{args.epochs}  L1 {loss:.4f}", flush=True),
    )  # fmt: skip
    val = _MotionWindows(args.cache, "val", cfg.window)
    val_loss = None
    if len(val):
        val_loss = reconstruction_l1(model, val)
        print(f"validation L1 {val_loss:.4f} on {len(val)} windows")
    FGDScorer(model, stats).save(
        args.out, {"train_l1": history, "val_l1": val_loss, "cache": str(args.cache), "epochs": args.epochs, "seed": args.seed}
    )
    print(f"saved {args.out}")
    return 0
