"""Model and scheduler configuration, stored as plain JSON in every checkpoint.

Why two: the network's architecture (``ModelConfig``, ``config.json``) and the diffusion process
(``SchedulerConfig``, ``scheduler_config.json``) change independently: a sampler or step count is
chosen per run without touching weights. The checkpoint must rebuild both without code or pickles,
and a typo in a hand-edited config must fail loudly (one parser: ``backend.config_parsing``).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

from ..audio import SPEECH_SAMPLE_RATE
from ..config_parsing import ConfigError, build

__all__ = ["FrontendConfig", "SchedulerConfig", "OutputConfig", "ModelConfig", "PRESETS", "SCHEDULER_PRESETS", "preset", "scheduler_preset"]

FRONTENDS = ("mel", "wavlm")
MIXERS = ("mamba2", "attention")
BIDIRECTIONAL_LAYOUTS = ("separate", "shared")
PREDICTION_TYPES = ("epsilon", "sample", "v_prediction")
BETA_SCHEDULES = ("linear", "scaled_linear", "squaredcos_cap_v2")
SAMPLERS = ("ddpm", "ddim", "dpmsolver++")


@dataclass
class FrontendConfig:
    """Audio frontend: ``mel`` (log-mel, no weights) or ``wavlm`` (frozen transformers WavLM).

    ``wavlm_path`` is a local folder (relative paths are resolved against the checkpoint folder)
    or a hub id; ``wavlm_dim`` is its hidden size (1024 for WavLM-Large). ``wavlm_layer`` is the
    hidden-state index (0 = CNN features, 12 = Persona-Gestor's choice for WavLM-Large) or
    ``"weighted"``: a learned softmax-weighted sum of all layers, which makes the frontend
    trainable and therefore unsuitable for cached features.
    """

    kind: str = "mel"
    sample_rate: int = SPEECH_SAMPLE_RATE
    n_mels: int = 80
    wavlm_path: str | None = None
    wavlm_layer: int | str = 12
    wavlm_dim: int = 1024

    @property
    def dim(self) -> int:
        """Channels of the frontend's output (the model's audio input width)."""
        return self.n_mels if self.kind == "mel" else self.wavlm_dim

    def validate(self) -> None:
        _check_choice("model.frontend.kind", self.kind, FRONTENDS)
        if self.sample_rate != SPEECH_SAMPLE_RATE:
            raise ConfigError(f"model.frontend.sample_rate must be {SPEECH_SAMPLE_RATE} (both frontends expect 16 kHz), got {self.sample_rate}")
        if self.kind == "mel" and self.n_mels < 1:
            raise ConfigError(f"model.frontend.n_mels must be positive, got {self.n_mels}")
        if self.kind == "wavlm":
            if not self.wavlm_path:
                raise ConfigError("model.frontend.wavlm_path is required for the wavlm frontend (a local folder or hub id)")
            if self.wavlm_layer != "weighted" and not (isinstance(self.wavlm_layer, int) and self.wavlm_layer >= 0):
                raise ConfigError(f"model.frontend.wavlm_layer must be a layer index >= 0 or 'weighted', got {self.wavlm_layer!r}")


@dataclass
class SchedulerConfig:
    """The noise schedule (shared by training and every sampler, so their betas agree) and the sampler
    defaults a caller gets when it does not choose: ``sampler``, ``steps``, ``guidance_scale``, and
    ``style_scale``: how strongly a separate style reference clip is followed (1 = as trained; above
    1 the prediction is pushed away from the speech's own style toward the reference's).

    Saved beside the model as ``scheduler_config.json``, like a diffusers scheduler.
    """

    num_train_timesteps: int = 1000
    beta_schedule: str = "linear"
    beta_start: float = 1e-4
    beta_end: float = 0.02
    prediction_type: str = "epsilon"
    sampler: str = "ddim"
    steps: int = 50
    guidance_scale: float = 1.0
    style_scale: float = 1.0

    def validate(self) -> "SchedulerConfig":
        _check_choice("scheduler.beta_schedule", self.beta_schedule, BETA_SCHEDULES)
        _check_choice("scheduler.prediction_type", self.prediction_type, PREDICTION_TYPES)
        _check_choice("scheduler.sampler", self.sampler, SAMPLERS)
        if self.num_train_timesteps < 2:
            raise ConfigError(f"scheduler.num_train_timesteps must be >= 2, got {self.num_train_timesteps}")
        if not 1 <= self.steps <= self.num_train_timesteps:
            raise ConfigError(f"scheduler.steps must be between 1 and num_train_timesteps, got {self.steps}")
        if not self.style_scale >= 0:
            raise ConfigError(f"scheduler.style_scale must be >= 0, got {self.style_scale}")
        return self

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "SchedulerConfig":
        """Build from a JSON dict; unknown keys or wrong types raise ``ConfigError`` naming the key."""
        return build(cls, data, "scheduler.").validate()


@dataclass
class OutputConfig:
    """How sampled features become the output motion: ``smooth_seconds`` is a Savitzky-Golay window on
    the de-normalised features (``backend.motion.smoothing``), 0 = off."""

    smooth_seconds: float = 0.0

    def validate(self) -> "OutputConfig":
        if not self.smooth_seconds >= 0:
            raise ConfigError(f"output.smooth_seconds must be >= 0, got {self.smooth_seconds}")
        return self


@dataclass
class ModelConfig:
    """The network's architecture and its audio frontend: everything needed to rebuild a GestureModel.

    ``pose_dim`` is the motion feature width, a property of the data: None until the trainer records
    the dataset cache's (``GesturePipeline.from_config`` takes it from the skeleton).
    ``mixer``: ``mamba2`` (DiM-Gesture) or ``attention`` (the DiT baseline, same blocks);
    ``bidirectional`` adds a reversed Mamba-2 scan (attention already sees both ways);
    ``bidirectional_layout``: ``separate`` (two whole Mamba-2 layers; what configs without the
    key were trained with) or ``shared`` (one in-projection, convolution and out-projection for
    both directions, ``backend.nn.shared_bidirectional``);
    ``d_state``/``d_conv``/``headdim``/``expand``/``chunk_size`` size the Mamba-2 layers
    (``headdim`` is also the attention head size); ``style``/``style_depth`` the style branch.
    """

    pose_dim: int | None = None
    hidden: int = 256
    depth: int = 6
    mixer: str = "mamba2"
    bidirectional: bool = True
    bidirectional_layout: str = "separate"
    d_state: int = 64
    d_conv: int = 4
    headdim: int = 64
    expand: int = 2
    chunk_size: int = 64
    mlp_ratio: float = 4.0
    style: bool = True
    style_depth: int = 1
    frontend: FrontendConfig = field(default_factory=FrontendConfig)

    def validate(self) -> "ModelConfig":
        _check_choice("model.mixer", self.mixer, MIXERS)
        _check_choice("model.bidirectional_layout", self.bidirectional_layout, BIDIRECTIONAL_LAYOUTS)
        for name in ("hidden", "depth", "d_state", "d_conv", "headdim", "expand", "chunk_size"):
            if getattr(self, name) < 1:
                raise ConfigError(f"model.{name} must be positive, got {getattr(self, name)}")
        if self.pose_dim is not None and self.pose_dim < 1:
            raise ConfigError(f"model.pose_dim must be positive, got {self.pose_dim}")
        if (self.expand * self.hidden) % self.headdim or self.hidden % self.headdim:
            raise ConfigError(f"model.hidden ({self.hidden}) must be a multiple of model.headdim ({self.headdim})")
        if self.style and self.style_depth < 1:
            raise ConfigError(f"model.style_depth must be >= 1 when the style branch is on, got {self.style_depth}")
        self.frontend.validate()
        return self

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ModelConfig":
        """Build from a JSON dict; unknown keys or wrong types raise ``ConfigError`` naming the key."""
        return build(cls, data, "model.").validate()

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "ModelConfig":
        return cls.from_dict(json.loads(text))

    def replace(self, **changes: Any) -> "ModelConfig":
        """A copy with top-level fields changed (nested configs may be given as dicts)."""
        data = self.to_dict()
        for key, value in changes.items():
            data[key] = dataclasses.asdict(value) if dataclasses.is_dataclass(value) else value
        return ModelConfig.from_dict(data)


def _check_choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}; got {value!r}")


def preset(name: str) -> ModelConfig:
    """A fresh copy of a named preset (``tiny``, ``small``, ``paper``)."""
    if name not in PRESETS:
        raise ConfigError(f"unknown model preset {name!r}; choose one of {', '.join(PRESETS)}")
    return ModelConfig.from_dict(PRESETS[name].to_dict())


def scheduler_preset(name: str) -> SchedulerConfig:
    """The scheduler that goes with model preset ``name``."""
    if name not in SCHEDULER_PRESETS:
        raise ConfigError(f"unknown model preset {name!r}; choose one of {', '.join(SCHEDULER_PRESETS)}")
    return SchedulerConfig.from_dict(SCHEDULER_PRESETS[name].to_dict())


PRESETS: dict[str, ModelConfig] = {
    # Tests: well under 1M parameters, runs in milliseconds on a CPU.
    "tiny": ModelConfig(hidden=64, depth=2, d_state=16, headdim=16, chunk_size=32, frontend=FrontendConfig(kind="mel", n_mels=32)),
    # The CPU demo: trains in minutes on procedural data, samples a clip in seconds. The shared
    # bidirectional layout at expand 1 has the DiT baseline's parameter count (within 1 %).
    "small": ModelConfig(hidden=256, depth=6, d_state=64, headdim=64, expand=1, bidirectional_layout="shared",
                         frontend=FrontendConfig(kind="mel", n_mels=80)),
    # The paper's size: 12 AdaLN Mamba-2 blocks, hidden 1280, WavLM-Large layer 12.
    "paper": ModelConfig(
        hidden=1280, depth=12, d_state=64, headdim=64,
        frontend=FrontendConfig(kind="wavlm", wavlm_path="microsoft/wavlm-large", wavlm_layer=12),
    ),
}

SCHEDULER_PRESETS: dict[str, SchedulerConfig] = {
    "tiny": SchedulerConfig(sampler="ddim", steps=10),
    "small": SchedulerConfig(sampler="dpmsolver++", steps=25),
    "paper": SchedulerConfig(sampler="ddpm", steps=1000),  # the paper's 1000-step ancestral DDPM
}
