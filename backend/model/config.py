"""Model configuration: one dataclass tree, stored as plain JSON in every checkpoint.

Why: the checkpoint must rebuild the exact network without code or pickles, and a typo in a
hand-edited config must fail loudly instead of being silently ignored.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from dataclasses import dataclass, field
from typing import Any

SPEECH_SAMPLE_RATE = 16000  # Hz: what both frontends (log-mel, WavLM) take; every clip is resampled to it

__all__ = ["FrontendConfig", "DiffusionConfig", "SamplerConfig", "ModelConfig", "PRESETS", "preset"]

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
        _check_choice("frontend.kind", self.kind, FRONTENDS)
        if self.sample_rate != SPEECH_SAMPLE_RATE:
            raise ValueError(f"frontend.sample_rate must be {SPEECH_SAMPLE_RATE} (both frontends expect 16 kHz), got {self.sample_rate}")
        if self.kind == "mel" and self.n_mels < 1:
            raise ValueError(f"frontend.n_mels must be positive, got {self.n_mels}")
        if self.kind == "wavlm":
            if not self.wavlm_path:
                raise ValueError("frontend.wavlm_path is required for the wavlm frontend (a local folder or hub id)")
            if self.wavlm_layer != "weighted" and not (isinstance(self.wavlm_layer, int) and self.wavlm_layer >= 0):
                raise ValueError(f"frontend.wavlm_layer must be a layer index >= 0 or 'weighted', got {self.wavlm_layer!r}")


@dataclass
class DiffusionConfig:
    """Training noise schedule and objective (shared by every sampler so their betas agree)."""

    num_train_timesteps: int = 1000
    beta_schedule: str = "linear"
    beta_start: float = 1e-4
    beta_end: float = 0.02
    prediction_type: str = "epsilon"
    cond_drop_prob: float = 0.1

    def validate(self) -> None:
        _check_choice("diffusion.beta_schedule", self.beta_schedule, BETA_SCHEDULES)
        _check_choice("diffusion.prediction_type", self.prediction_type, PREDICTION_TYPES)
        if self.num_train_timesteps < 2:
            raise ValueError(f"diffusion.num_train_timesteps must be >= 2, got {self.num_train_timesteps}")
        if not 0.0 <= self.cond_drop_prob < 1.0:
            raise ValueError(f"diffusion.cond_drop_prob must be in [0, 1), got {self.cond_drop_prob}")


@dataclass
class SamplerConfig:
    """Defaults used when a caller does not choose a sampler, step count or guidance."""

    name: str = "ddim"
    steps: int = 50
    guidance_scale: float = 1.0
    smooth_seconds: float = 0.0  # Savitzky-Golay window on the output features (backend.motion.smoothing); 0 = off

    def validate(self) -> None:
        _check_choice("sampler.name", self.name, SAMPLERS)
        if self.steps < 1:
            raise ValueError(f"sampler.steps must be >= 1, got {self.steps}")
        if not self.smooth_seconds >= 0:
            raise ValueError(f"sampler.smooth_seconds must be >= 0, got {self.smooth_seconds}")


@dataclass
class ModelConfig:
    """Everything needed to rebuild a GestureModel and its diffusion process.

    ``mixer``: ``mamba2`` (DiM-Gesture) or ``attention`` (the DiT baseline, same blocks);
    ``bidirectional`` adds a reversed Mamba-2 scan (attention already sees both ways);
    ``bidirectional_layout``: ``separate`` (two whole Mamba-2 layers; what configs without the
    key were trained with) or ``shared`` (one in-projection, convolution and out-projection for
    both directions, ``backend.nn.shared_bidirectional``);
    ``d_state``/``d_conv``/``headdim``/``expand``/``chunk_size`` size the Mamba-2 layers
    (``headdim`` is also the attention head size); ``style``/``style_depth`` the style branch.
    """

    fps: float = 20.0
    pose_dim: int = 6 * 75 + 4
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
    dropout: float = 0.1
    style: bool = True
    style_depth: int = 1
    frontend: FrontendConfig = field(default_factory=FrontendConfig)
    diffusion: DiffusionConfig = field(default_factory=DiffusionConfig)
    sampler: SamplerConfig = field(default_factory=SamplerConfig)

    def validate(self) -> "ModelConfig":
        _check_choice("mixer", self.mixer, MIXERS)
        _check_choice("bidirectional_layout", self.bidirectional_layout, BIDIRECTIONAL_LAYOUTS)
        if self.fps <= 0:
            raise ValueError(f"fps must be positive, got {self.fps}")
        for name in ("pose_dim", "hidden", "depth", "d_state", "d_conv", "headdim", "expand", "chunk_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if (self.expand * self.hidden) % self.headdim or self.hidden % self.headdim:
            raise ValueError(f"hidden ({self.hidden}) must be a multiple of headdim ({self.headdim})")
        if self.style and self.style_depth < 1:
            raise ValueError(f"style_depth must be >= 1 when the style branch is on, got {self.style_depth}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        self.frontend.validate()
        self.diffusion.validate()
        self.sampler.validate()
        return self

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ModelConfig":
        """Build from a JSON dict; unknown keys or wrong types raise ValueError naming the key."""
        return _build(cls, data, "").validate()

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
        raise ValueError(f"{name} must be one of {', '.join(choices)}; got {value!r}")


def _build(cls: type, data: Any, where: str):
    if not isinstance(data, dict):
        raise ValueError(f"model config{' ' + where if where else ''}: expected an object, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ValueError(f"model config: unknown key(s) {', '.join(where + k for k in unknown)}")
    kwargs = {}
    for key, value in data.items():
        hint = hints[key]
        if dataclasses.is_dataclass(hint):
            kwargs[key] = _build(hint, value, f"{where}{key}.")
        else:
            kwargs[key] = _coerce(hint, value, where + key)
    return cls(**kwargs)


def _coerce(hint: Any, value: Any, name: str) -> Any:
    """Accept JSON values for a field's annotated type (ints for floats, no bools for numbers)."""
    options = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else (hint,)
    for option in options:
        if option is type(None) and value is None:
            return None
        if option is bool and isinstance(value, bool):
            return value
        if option is int and isinstance(value, int) and not isinstance(value, bool):
            return value
        if option is float and isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if option is str and isinstance(value, str):
            return value
    raise ValueError(f"model config: {name} has the wrong type ({type(value).__name__}: {value!r})")


def preset(name: str) -> ModelConfig:
    """A fresh copy of a named preset (``tiny``, ``small``, ``paper``)."""
    if name not in PRESETS:
        raise ValueError(f"unknown model preset {name!r}; choose one of {', '.join(PRESETS)}")
    return ModelConfig.from_dict(PRESETS[name].to_dict())


PRESETS: dict[str, ModelConfig] = {
    # Tests: well under 1M parameters, runs in milliseconds on a CPU.
    "tiny": ModelConfig(
        hidden=64,
        depth=2,
        d_state=16,
        headdim=16,
        chunk_size=32,
        frontend=FrontendConfig(kind="mel", n_mels=32),
        sampler=SamplerConfig(name="ddim", steps=10),
    ),
    # The CPU demo: trains in minutes on procedural data, samples a clip in seconds. The shared
    # bidirectional layout at expand 1 has the DiT baseline's parameter count (within 1 %).
    "small": ModelConfig(
        hidden=256,
        depth=6,
        d_state=64,
        headdim=64,
        expand=1,
        bidirectional_layout="shared",
        frontend=FrontendConfig(kind="mel", n_mels=80),
        sampler=SamplerConfig(name="dpmsolver++", steps=25),
    ),
    # The paper's size: 12 AdaLN Mamba-2 blocks, hidden 1280, WavLM-Large layer 12, 1000-step DDPM.
    "paper": ModelConfig(
        hidden=1280,
        depth=12,
        d_state=64,
        headdim=64,
        frontend=FrontendConfig(kind="wavlm", wavlm_path="microsoft/wavlm-large", wavlm_layer=12),
        sampler=SamplerConfig(name="ddpm", steps=1000),
    ),
}
