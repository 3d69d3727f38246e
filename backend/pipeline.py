"""GesturePipeline: speech (file or waveform) -> gesture ``Motion``, and the checkpoint folder.

Why one object: the server, the CLI and the trainer all need the same chain (audio loading,
frozen frontend, GestureModel, sampler, de-normalisation, features -> joint rotations) and the
same checkpoint layout (DESIGN.md §7): ``config.json`` + ``model.safetensors`` +
``stats.safetensors``, written atomically, read without pickle.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from backend import __version__
from backend.audio import check_waveform, load_audio
from backend.checkpoint import atomic_dir, load_tensors, read_json, save_tensors, write_json
from backend.errors import CheckpointError
from backend.loading import checkpoint_folder, resolve_device
from backend.model.config import ModelConfig
from backend.model.diffusion import GestureDiffusion
from backend.model.frontends import build_frontend
from backend.model.gesture import GestureModel
from backend.motion.features import FeatureStats, features_to_motion, motion_to_features, num_features
from backend.motion.smoothing import smooth_features
from backend.motion.motion import Motion
from backend.motion.skeleton import Skeleton, default_skeleton

__all__ = ["GesturePipeline", "FORMAT_VERSION", "window_spans", "blend_weights"]

FORMAT_VERSION = 1
MAX_PASS_SECONDS = 120.0  # longer clips are generated in windows of this length: memory stays bounded
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
STATS_FILE = "stats.safetensors"
WAVLM_DIR = "wavlm"
FRONTEND_PREFIX = "frontend."


class GesturePipeline:
    """Frontend + model + diffusion + skeleton + feature statistics, ready to generate."""

    def __init__(
        self,
        frontend: torch.nn.Module,
        model: GestureModel,
        diffusion: GestureDiffusion,
        skeleton: Skeleton,
        stats: FeatureStats,
        config: ModelConfig,
    ):
        expected = num_features(skeleton)
        if config.pose_dim != expected:
            raise ValueError(f"config pose_dim {config.pose_dim} does not fit a {skeleton.num_joints}-joint skeleton ({expected})")
        if stats.mean.shape != (expected,):
            raise ValueError(f"feature stats have shape {stats.mean.shape}, expected ({expected},)")
        if getattr(frontend, "dim", None) != config.frontend.dim:
            raise ValueError(f"frontend gives {getattr(frontend, 'dim', None)} channels, the model expects {config.frontend.dim}")
        self.frontend = frontend.eval()
        self.model = model.eval()
        self.diffusion = diffusion
        self.skeleton = skeleton
        self.stats = stats
        self.config = config

    # ----------------------------------------------------------------------------- building

    @classmethod
    def from_config(
        cls,
        config: ModelConfig,
        skeleton: Skeleton | None = None,
        stats: FeatureStats | None = None,
        seed: int = 0,
        base_dir: str | Path | None = None,
    ) -> "GesturePipeline":
        """A randomly initialised pipeline (reproducible for ``seed``), e.g. from a preset.

        ``pose_dim`` is set from the skeleton. Without ``stats``, the mean is the skeleton's rest
        pose and the std is 1 (placeholders until a dataset provides real statistics).
        """
        skeleton = skeleton if skeleton is not None else default_skeleton()
        config = config.replace(pose_dim=num_features(skeleton))
        if stats is None:
            stats = rest_pose_stats(skeleton, config.fps)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = GestureModel(config)
            frontend = build_frontend(config.frontend, base_dir)
        return cls(frontend, model, GestureDiffusion(config.diffusion), skeleton, stats, config)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def to(self, device: str | torch.device) -> "GesturePipeline":
        self.model.to(device)
        self.frontend.to(device)
        return self

    # --------------------------------------------------------------------------- checkpoint

    def save_pretrained(self, folder: str | Path, include_frontend: bool = False) -> None:
        """Write the checkpoint folder; ``config.json`` is written last, so it marks completeness.

        With ``include_frontend`` a WavLM frontend's weights are copied into ``folder/wavlm``
        (safetensors) and the config points there, so the checkpoint needs nothing else.
        """
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        save_tensors(folder / WEIGHTS_FILE, self._weights(), metadata={"format": "pt"})
        save_tensors(
            folder / STATS_FILE, {"mean": torch.from_numpy(self.stats.mean), "std": torch.from_numpy(self.stats.std)}
        )
        model = self.config.to_dict()
        if include_frontend and self.config.frontend.kind == "wavlm":
            with atomic_dir(folder / WAVLM_DIR) as tmp:
                self.frontend.wavlm.save_pretrained(tmp)  # safetensors
            model["frontend"]["wavlm_path"] = WAVLM_DIR
        header = {key: model.pop(key) for key in ("fps", "frontend", "sampler")}
        write_json(
            folder / CONFIG_FILE,
            {
                "format_version": FORMAT_VERSION,
                "backend_version": __version__,
                **header,
                "model": model,
                "skeleton": self.skeleton.to_dict(),
            },
        )

    @classmethod
    def from_pretrained(cls, folder: str | Path | None = None, device: str | torch.device = "cpu") -> "GesturePipeline":
        """Load a checkpoint folder (None: the bundled demo) onto ``device`` (``auto``: CUDA if usable).

        The one loader of the CLI, the server, eval and bench; any problem raises
        ``CheckpointError`` naming the file.
        """
        folder = checkpoint_folder(folder)
        device = resolve_device(device) if isinstance(device, str) else device
        config_path = folder / CONFIG_FILE
        data = read_json(config_path)
        version = data.get("format_version")
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise CheckpointError(f"{config_path}: missing or invalid format_version ({version!r})")
        if version > FORMAT_VERSION:
            raise CheckpointError(
                f"{config_path}: format version {version} is newer than this backend reads ({FORMAT_VERSION}); "
                "update DiM-Gesture"
            )
        try:
            model_dict = dict(data["model"])
            model_dict.update(fps=data["fps"], frontend=data["frontend"], sampler=data["sampler"])
            config = ModelConfig.from_dict(model_dict)
            skeleton = Skeleton.from_dict(data["skeleton"])
        except KeyError as err:
            raise CheckpointError(f"{config_path}: missing entry {err}") from None
        except (TypeError, ValueError) as err:
            raise CheckpointError(f"{config_path}: {err}") from None
        if config.pose_dim != num_features(skeleton):
            raise CheckpointError(
                f"{config_path}: pose_dim {config.pose_dim} does not fit the {skeleton.num_joints}-joint skeleton"
            )
        try:
            frontend = build_frontend(config.frontend, base_dir=folder)
        except (OSError, ValueError) as err:
            raise CheckpointError(f"{config_path}: cannot build the audio frontend: {err}") from None
        model = GestureModel(config)
        pipe_weights = load_tensors(folder / WEIGHTS_FILE, _expected_shapes(model, frontend))
        model.load_state_dict({k: v for k, v in pipe_weights.items() if not k.startswith(FRONTEND_PREFIX)}, strict=True)
        frontend_weights = {k[len(FRONTEND_PREFIX):]: v for k, v in pipe_weights.items() if k.startswith(FRONTEND_PREFIX)}
        if frontend_weights:
            frontend.load_state_dict(frontend_weights, strict=False)
        stats_path = folder / STATS_FILE
        stats_tensors = load_tensors(stats_path, {"mean": (config.pose_dim,), "std": (config.pose_dim,)})
        try:
            stats = FeatureStats(stats_tensors["mean"].numpy(), stats_tensors["std"].numpy())
        except ValueError as err:
            raise CheckpointError(f"{stats_path}: {err}") from None
        pipe = cls(frontend, model, GestureDiffusion(config.diffusion), skeleton, stats, config)
        return pipe.to(device)

    def _weights(self) -> dict[str, torch.Tensor]:
        return _checkpoint_tensors(self.model, self.frontend)

    # ---------------------------------------------------------------------------- inference

    @torch.no_grad()
    def frontend_features(self, wave: np.ndarray | torch.Tensor) -> torch.Tensor:
        """Frontend features (B, T_a, C) of a 16 kHz waveform (N,) or batch (B, N) — for caching."""
        wave = torch.as_tensor(np.asarray(wave, dtype=np.float32) if isinstance(wave, np.ndarray) else wave)
        if wave.dim() == 1:
            wave = wave[None]
        return self.frontend(wave.to(self.device, torch.float32))

    def num_frames(self, num_samples: int) -> int:
        """Motion frames (at the model's fps) for a waveform of ``num_samples`` at 16 kHz."""
        return max(1, round(num_samples / self.config.frontend.sample_rate * self.config.fps))

    def __call__(
        self,
        audio: str | Path | np.ndarray,
        *,
        seed: int = 0,
        steps: int | None = None,
        sampler: str | None = None,
        style_audio: str | Path | np.ndarray | None = None,
        guidance_scale: float | None = None,
        fps: float | None = None,
        window_seconds: float | None = None,
        overlap_seconds: float | None = None,
        smooth_seconds: float | None = None,
        progress: Callable[[int, int, str], None] | None = None,
        cancel: Callable[[], bool] | None = None,
    ) -> Motion:
        """Gestures for a speech clip (a path, or a 16 kHz mono float waveform).

        The model runs at its own fps; ``fps`` resamples the result. Without ``window_seconds``
        a clip up to ``MAX_PASS_SECONDS`` is generated in one pass (longer ones in windows of that
        length, so a 2-hour clip cannot exhaust memory); with it, windows of that length overlapping by
        ``overlap_seconds`` (default a quarter window) are cross-faded linearly in feature space,
        which bounds memory for very long clips. ``smooth_seconds`` (default: the checkpoint's
        ``sampler.smooth_seconds``) low-passes the features without shifting beats. Same seed, same result.
        """
        wave = self._waveform(audio)
        style_feats = None if style_audio is None else self.frontend_features(self._waveform(style_audio))
        defaults = self.config.sampler
        sampler = sampler or defaults.name
        steps = steps or defaults.steps
        guidance_scale = defaults.guidance_scale if guidance_scale is None else guidance_scale
        generator = torch.Generator().manual_seed(seed)

        total_frames = self.num_frames(wave.shape[0])
        if window_seconds is None and total_frames > MAX_PASS_SECONDS * self.config.fps:
            window_seconds = MAX_PASS_SECONDS
        if window_seconds is None:
            spans = [(0, total_frames)]
        else:
            window = max(2, round(window_seconds * self.config.fps))
            overlap_s = window_seconds / 4 if overlap_seconds is None else overlap_seconds
            overlap = min(max(1, round(overlap_s * self.config.fps)), window - 1)
            spans = window_spans(total_frames, window, overlap)

        samples_per_frame = self.config.frontend.sample_rate / self.config.fps
        out = np.zeros((total_frames, self.config.pose_dim), dtype=np.float64)
        weight_sum = np.zeros((total_frames, 1), dtype=np.float64)
        for index, (start, stop) in enumerate(spans):
            lo = min(int(round(start * samples_per_frame)), wave.shape[0] - 1)
            hi = max(int(round(stop * samples_per_frame)), lo + 1)
            feats = self.frontend_features(wave[lo:hi])
            x = self.diffusion.sample(
                self.model, feats, stop - start, sampler=sampler, steps=steps, generator=generator,
                guidance_scale=guidance_scale, style_audio=style_feats, progress=progress, cancel=cancel,
                progress_offset=index * steps, progress_total=len(spans) * steps,
            )
            weights = blend_weights(spans, index)[:, None]
            out[start:stop] += weights * x[0].float().cpu().numpy()
            weight_sum[start:stop] += weights
        return self.decode(out / weight_sum, fps=fps, smooth_seconds=smooth_seconds)

    def decode(self, sample: np.ndarray, *, fps: float | None = None, smooth_seconds: float | None = None) -> Motion:
        """A sampled, normalised feature sequence (T, F) -> Motion: de-normalised, smoothed (``smooth_seconds``,
        default the checkpoint's ``sampler.smooth_seconds``), decoded, and resampled to ``fps`` when given."""
        features = self.stats.denormalize(sample)
        smooth = self.config.sampler.smooth_seconds if smooth_seconds is None else smooth_seconds
        features = smooth_features(features, self.config.fps, smooth)
        motion = features_to_motion(features, self.skeleton, self.config.fps)
        if fps is not None and not math.isclose(fps, self.config.fps):
            motion = motion.resample(fps)
        return motion

    def _waveform(self, audio: str | Path | np.ndarray) -> np.ndarray:
        if isinstance(audio, (str, Path)):
            return load_audio(audio, self.config.frontend.sample_rate)
        return check_waveform(audio)


def _checkpoint_tensors(model: GestureModel, frontend: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The model's state plus the frontend's trainable part (WavLM layer weights, if any)."""
    tensors = dict(model.state_dict())
    tensors.update({FRONTEND_PREFIX + n: p for n, p in frontend.named_parameters() if p.requires_grad})
    return tensors


def _expected_shapes(model: GestureModel, frontend: torch.nn.Module) -> dict[str, tuple[int, ...]]:
    return {name: tuple(t.shape) for name, t in _checkpoint_tensors(model, frontend).items()}


def window_spans(total: int, window: int, overlap: int) -> list[tuple[int, int]]:
    """Frame spans ``[start, stop)`` of at most ``window`` frames covering ``total``, overlapping
    by at least ``overlap``; the last one ends exactly at ``total``."""
    if total <= window:
        return [(0, total)]
    hop = window - overlap
    starts = list(range(0, total - window, hop)) + [total - window]
    return [(s, s + window) for s in starts]


def blend_weights(spans: list[tuple[int, int]], index: int) -> np.ndarray:
    """Linear cross-fade weights for window ``index``: ramps over its overlaps with neighbours,
    complementary to theirs, so overlapping windows sum to one."""
    start, stop = spans[index]
    w = np.ones(stop - start)
    if index > 0:
        ov = spans[index - 1][1] - start
        w[:ov] = np.minimum(w[:ov], np.arange(1, ov + 1) / (ov + 1))
    if index < len(spans) - 1:
        ov = stop - spans[index + 1][0]
        w[-ov:] = np.minimum(w[-ov:], np.arange(ov, 0, -1) / (ov + 1))
    return w


def rest_pose_stats(skeleton: Skeleton, fps: float) -> FeatureStats:
    """Mean = the rest pose's features, std = 1: placeholder statistics centred on a sensible pose."""
    rest = Motion(fps, skeleton, skeleton.rest_rotations[None], skeleton.offsets[:1])
    return FeatureStats(motion_to_features(rest)[0], np.ones(num_features(skeleton), dtype=np.float32))
