"""GesturePipeline: speech (file or waveform) -> gesture ``Motion``, and the checkpoint folder.

Why one object: the server, the CLI and the trainer all need the same chain (audio loading,
frozen frontend, GestureModel, scheduler and the denoising loop, de-normalisation, features ->
joint rotations) and the same checkpoint layout (DESIGN.md §7): ``config.json`` +
``scheduler_config.json`` + ``model.safetensors`` + ``stats.safetensors``, written atomically, read
without pickle.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from backend import __version__
from backend.audio import check_waveform, load_audio
from backend.checkpoint import atomic_dir, load_tensors, read_json, save_tensors, write_json
from backend.config_parsing import build, rename_legacy
from backend.denoising import denoise, needs_own_style
from backend.errors import CheckpointError
from backend.loading import checkpoint_folder, resolve_device
from backend.model.config import ModelConfig, OutputConfig, SchedulerConfig
from backend.model.frontends import build_frontend
from backend.model.gesture import GestureModel
from backend.model.schedulers import GestureScheduler
from backend.motion.features import FeatureStats, features_to_motion, motion_to_features, num_features
from backend.motion.smoothing import smooth_features
from backend.motion.motion import Motion
from backend.motion.skeleton import Skeleton, default_skeleton
from backend.windowing import cross_fade, pass_spans

__all__ = ["GesturePipeline", "FORMAT_VERSION", "DEFAULT_FPS"]

FORMAT_VERSION = 2  # 2: scheduler_config.json beside config.json; model, data and output sections apart
DEFAULT_FPS = 20.0  # motion frame rate of a pipeline built from a preset (a trained one records its data's)
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
STATS_FILE = "stats.safetensors"
WAVLM_DIR = "wavlm"
FRONTEND_PREFIX = "frontend."
V1_SECTIONS = ("fps", "frontend", "sampler", "model")  # what a format-1 config.json held besides its skeleton


class GesturePipeline:
    """Frontend + model + scheduler + skeleton + feature statistics, ready to generate.

    ``fps`` is the model's motion frame rate (the training data's); ``output`` says how sampled
    features become motion (smoothing).
    """

    def __init__(
        self,
        frontend: torch.nn.Module,
        model: GestureModel,
        scheduler: GestureScheduler,
        skeleton: Skeleton,
        stats: FeatureStats,
        *,
        fps: float,
        output: OutputConfig | None = None,
    ):
        expected = num_features(skeleton)
        config = model.config
        if config.pose_dim != expected:
            raise ValueError(f"model.pose_dim {config.pose_dim} does not fit a {skeleton.num_joints}-joint skeleton ({expected})")
        if stats.mean.shape != (expected,):
            raise ValueError(f"feature stats have shape {stats.mean.shape}, expected ({expected},)")
        if getattr(frontend, "dim", None) != config.frontend.dim:
            raise ValueError(f"frontend gives {getattr(frontend, 'dim', None)} channels, the model expects {config.frontend.dim}")
        if not fps > 0:
            raise ValueError(f"fps must be positive, got {fps}")
        self.frontend = frontend.eval()
        self.model = model.eval()
        self.scheduler = scheduler
        self.skeleton = skeleton
        self.stats = stats
        self.fps = float(fps)
        self.output = (output or OutputConfig()).validate()

    # ----------------------------------------------------------------------------- building

    @classmethod
    def from_config(
        cls,
        config: ModelConfig,
        skeleton: Skeleton | None = None,
        stats: FeatureStats | None = None,
        seed: int = 0,
        base_dir: str | Path | None = None,
        *,
        scheduler: SchedulerConfig | None = None,
        fps: float = DEFAULT_FPS,
    ) -> "GesturePipeline":
        """A randomly initialised pipeline (reproducible for ``seed``), e.g. from a preset.

        ``pose_dim`` is set from the skeleton; ``scheduler`` defaults to ``SchedulerConfig()``. Without
        ``stats``, the mean is the skeleton's rest pose and the std is 1 (placeholders until a dataset
        provides real statistics).
        """
        skeleton = skeleton if skeleton is not None else default_skeleton()
        config = config.replace(pose_dim=num_features(skeleton))
        if stats is None:
            stats = rest_pose_stats(skeleton, fps)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = GestureModel(config)
            frontend = build_frontend(config.frontend, base_dir)
        return cls(frontend, model, GestureScheduler(scheduler or SchedulerConfig()), skeleton, stats, fps=fps)

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
        self.scheduler.save_pretrained(folder)
        model = self.model.config.to_dict()
        if include_frontend and self.model.config.frontend.kind == "wavlm":
            with atomic_dir(folder / WAVLM_DIR) as tmp:
                self.frontend.wavlm.save_pretrained(tmp)  # safetensors
            model["frontend"]["wavlm_path"] = WAVLM_DIR
        write_json(
            folder / CONFIG_FILE,
            {
                "format_version": FORMAT_VERSION,
                "backend_version": __version__,
                "model": model,
                "data": {"fps": self.fps},
                "output": dataclasses.asdict(self.output),
                "skeleton": self.skeleton.to_dict(),
            },
        )

    @classmethod
    def from_pretrained(cls, folder: str | Path | None = None, device: str | torch.device = "cpu") -> "GesturePipeline":
        """Load a checkpoint folder (None: the bundled demo) onto ``device`` (``auto``: CUDA if usable).

        The one loader of the CLI, the server, eval and bench; any problem raises
        ``CheckpointError`` naming the file. Format-1 folders (no ``scheduler_config.json``) load too:
        their scheduler comes from the old model config (``config_parsing.LEGACY_KEYS``).
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
            if version == 1:
                missing = [key for key in V1_SECTIONS if key not in data]
                if missing:
                    raise KeyError(missing[0])
                tree = rename_legacy({key: data[key] for key in V1_SECTIONS}, str(config_path))
                scheduler = GestureScheduler(SchedulerConfig.from_dict(tree.get("scheduler", {})))
            else:
                tree = {key: data[key] for key in ("model", "data", "output")}
                scheduler = GestureScheduler.from_pretrained(folder)
            config = ModelConfig.from_dict(tree["model"])
            fps = _checkpoint_fps(tree["data"])
            output = build(OutputConfig, tree.get("output", {}), "output.").validate()
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
        pipe = cls(frontend, model, scheduler, skeleton, stats, fps=fps, output=output)
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
        return max(1, round(num_samples / self.model.config.frontend.sample_rate * self.fps))

    @torch.no_grad()
    def __call__(
        self,
        audio: str | Path | np.ndarray,
        *,
        seed: int = 0,
        steps: int | None = None,
        sampler: str | None = None,
        style_audio: str | Path | np.ndarray | None = None,
        guidance_scale: float | None = None,
        style_scale: float | None = None,
        fps: float | None = None,
        pass_seconds: float | None = None,
        overlap_seconds: float | None = None,
        smooth_seconds: float | None = None,
        progress: Callable[[int, int, str], None] | None = None,
        cancel: Callable[[], bool] | None = None,
    ) -> Motion:
        """Gestures for a speech clip (a path, or a 16 kHz mono float waveform).

        ``steps``, ``sampler``, ``guidance_scale`` and ``style_scale`` (how strongly ``style_audio`` is
        followed; ``denoising.denoise``) default to the scheduler's config. The model runs
        at its own fps; ``fps`` resamples the result. Without ``pass_seconds`` a clip up to
        ``windowing.MAX_PASS_SECONDS`` is generated in one pass (longer ones in passes of that length, so
        a 2-hour clip cannot exhaust memory); with it, passes of that length overlapping by
        ``overlap_seconds`` (default a quarter pass) are cross-faded linearly in feature space.
        ``smooth_seconds`` (default the checkpoint's ``output.smooth_seconds``) low-passes the features
        without shifting beats. ``progress(step, total, "denoising")`` counts the steps of all passes;
        ``cancel()`` returning True raises ``Cancelled``. Same seed, same result.
        """
        wave = self._waveform(audio)
        style_feats = None if style_audio is None else self.frontend_features(self._waveform(style_audio))
        own_style_too = needs_own_style(self.scheduler, style_scale, style_feats is not None)
        generator = torch.Generator().manual_seed(seed)
        spans = pass_spans(self.num_frames(wave.shape[0]), self.fps, pass_seconds, overlap_seconds)
        samples_per_frame = self.model.config.frontend.sample_rate / self.fps
        pieces = []
        for index, (start, stop) in enumerate(spans):
            lo = min(int(round(start * samples_per_frame)), wave.shape[0] - 1)
            hi = max(int(round(stop * samples_per_frame)), lo + 1)
            feats = self.frontend_features(wave[lo:hi])
            cond = self.model.condition(feats, stop - start, style_feats)
            base = self.model.condition(feats, stop - start) if own_style_too else None
            x = denoise(
                self.model, self.scheduler, cond, sampler=sampler, steps=steps, guidance_scale=guidance_scale,
                style_base=base, style_scale=style_scale, generator=generator, callback=_pass_progress(progress, index, len(spans)), cancel=cancel,
            )
            pieces.append(x[0].float().cpu().numpy())
        return self.decode(cross_fade(spans, pieces), fps=fps, smooth_seconds=smooth_seconds)

    def decode(self, sample: np.ndarray, *, fps: float | None = None, smooth_seconds: float | None = None) -> Motion:
        """A sampled, normalised feature sequence (T, F) -> Motion: de-normalised, smoothed (``smooth_seconds``,
        default the checkpoint's ``output.smooth_seconds``), decoded, and resampled to ``fps`` when given."""
        features = self.stats.denormalize(sample)
        smooth = self.output.smooth_seconds if smooth_seconds is None else smooth_seconds
        features = smooth_features(features, self.fps, smooth)
        motion = features_to_motion(features, self.skeleton, self.fps)
        if fps is not None and not math.isclose(fps, self.fps):
            motion = motion.resample(fps)
        return motion

    def _waveform(self, audio: str | Path | np.ndarray) -> np.ndarray:
        if isinstance(audio, (str, Path)):
            return load_audio(audio, self.model.config.frontend.sample_rate)
        return check_waveform(audio)


def _pass_progress(progress: Callable[[int, int, str], None] | None, index: int, passes: int) -> Callable[[int, int], None] | None:
    """The denoising callback of pass ``index``: one running count of steps over all ``passes``."""
    if progress is None:
        return None
    return lambda step, steps: progress(index * steps + step, passes * steps, "denoising")


def _checkpoint_fps(section: dict) -> float:
    fps = section["fps"]
    if isinstance(fps, bool) or not isinstance(fps, (int, float)) or not fps > 0:
        raise ValueError(f"data.fps must be a positive number, got {fps!r}")
    return float(fps)


def _checkpoint_tensors(model: GestureModel, frontend: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The model's state plus the frontend's trainable part (WavLM layer weights, if any)."""
    tensors = dict(model.state_dict())
    tensors.update({FRONTEND_PREFIX + n: p for n, p in frontend.named_parameters() if p.requires_grad})
    return tensors


def _expected_shapes(model: GestureModel, frontend: torch.nn.Module) -> dict[str, tuple[int, ...]]:
    return {name: tuple(t.shape) for name, t in _checkpoint_tensors(model, frontend).items()}


def rest_pose_stats(skeleton: Skeleton, fps: float) -> FeatureStats:
    """Mean = the rest pose's features, std = 1: placeholder statistics centred on a sensible pose."""
    rest = Motion(fps, skeleton, skeleton.rest_rotations[None], skeleton.offsets[:1])
    return FeatureStats(motion_to_features(rest)[0], np.ones(num_features(skeleton), dtype=np.float32))
