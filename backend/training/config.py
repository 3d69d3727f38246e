"""Training run configuration: a JSON file with ``model``, ``data`` and ``train`` sections.

Why one tree: every field has a dotted name (``train.lr``, ``model.frontend.n_mels``) that the
command line can override, and the resolved tree is written next to the run so a result can
always be traced back to the exact settings. The ``model`` section names a preset
(``"preset": "small"``) and overrides any of its fields.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from ..errors import DimGestureError
from ..model.config import ModelConfig, preset

__all__ = ["ConfigError", "DataConfig", "TrainConfig", "RunConfig", "load_config", "field_paths", "SCHEDULES"]

SCHEDULES = ("cosine", "constant", "linear")
PRECISIONS = ("no", "fp16", "bf16")


class ConfigError(DimGestureError):
    """A training config file or override is malformed (the message names the key)."""

    kind = "config"


@dataclass
class DataConfig:
    """Where the prepared feature cache is and how it is cut into training windows."""

    cache: str = "data/cache-demo"
    window_seconds: float = 8.0
    hop_seconds: float = 4.0
    mirror: bool = False
    num_workers: int = 0


@dataclass
class TrainConfig:
    """Optimisation, logging and checkpointing of one run (written to ``out``).

    ``threads`` > 0 sets PyTorch's CPU threads (1 is fastest on a machine shared with other jobs).
    """

    out: str = "runs/demo"
    steps: int = 10000
    batch_size: int = 16
    lr: float = 2e-4
    weight_decay: float = 0.0
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    warmup_steps: int = 500
    schedule: str = "cosine"
    grad_clip: float = 0.5
    ema_decay: float = 0.999
    ema_power: float = 0.75
    mixed_precision: str = "no"
    cpu: bool = False
    threads: int = 0
    seed: int = 0
    log_every: int = 10
    val_every: int = 500
    val_batches: int = 8
    checkpoint_every: int = 1000
    keep_checkpoints: int = 2


@dataclass
class RunConfig:
    """The resolved tree: ``model`` is a full ``ModelConfig`` (preset already applied)."""

    model: ModelConfig = field(default_factory=lambda: preset("small"))
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    preset: str = "small"

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": {"preset": self.preset, **self.model.to_dict()},
            "data": dataclasses.asdict(self.data),
            "train": dataclasses.asdict(self.train),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def validate(self) -> "RunConfig":
        t, d = self.train, self.data
        checks = [
            (t.steps >= 1, f"train.steps must be >= 1, got {t.steps}"),
            (t.batch_size >= 1, f"train.batch_size must be >= 1, got {t.batch_size}"),
            (t.lr > 0, f"train.lr must be positive, got {t.lr}"),
            (t.warmup_steps >= 0, f"train.warmup_steps must be >= 0, got {t.warmup_steps}"),
            (t.schedule in SCHEDULES, f"train.schedule must be one of {', '.join(SCHEDULES)}, got {t.schedule!r}"),
            (t.mixed_precision in PRECISIONS, f"train.mixed_precision must be one of {', '.join(PRECISIONS)}, got {t.mixed_precision!r}"),
            (t.grad_clip > 0, f"train.grad_clip must be positive, got {t.grad_clip}"),
            (0 <= t.ema_decay < 1, f"train.ema_decay must be in [0, 1), got {t.ema_decay}"),
            (min(t.log_every, t.val_every, t.checkpoint_every) >= 1, "train.log_every, val_every and checkpoint_every must be >= 1"),
            (t.threads >= 0, f"train.threads must be >= 0 (0: PyTorch's default), got {t.threads}"),
            (t.keep_checkpoints >= 1, f"train.keep_checkpoints must be >= 1, got {t.keep_checkpoints}"),
            (d.window_seconds > 0 and d.hop_seconds > 0, "data.window_seconds and data.hop_seconds must be positive"),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(message)
        return self


def _sections(run: RunConfig) -> dict[str, Any]:
    return {"model": run.model, "data": run.data, "train": run.train}


def _walk(obj: Any, prefix: str) -> Iterator[tuple[str, Any]]:
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value):
            yield from _walk(value, f"{prefix}{f.name}.")
        else:
            yield f"{prefix}{f.name}", value


def field_paths() -> list[str]:
    """Every overridable dotted name, e.g. ``train.lr``, ``model.frontend.kind``, ``model.preset``."""
    paths = ["model.preset"]
    for name, section in _sections(RunConfig()).items():
        paths.extend(path for path, _ in _walk(section, f"{name}."))
    return paths


def _schema(cls: type) -> dict[str, Any]:
    """Field name -> type hint (nested dataclasses as nested dicts): how to read a command-line value."""
    hints = typing.get_type_hints(cls)
    return {
        f.name: _schema(hints[f.name]) if dataclasses.is_dataclass(hints[f.name]) else hints[f.name]
        for f in dataclasses.fields(cls)
    }


def parse_value(text: str, hint: Any, key: str) -> Any:
    """Read a command-line string as the field's annotated type (``int | str`` tries int first)."""
    options = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else (hint,)
    for option in options:
        if option is type(None) and text.strip().lower() in ("none", "null"):
            return None
        if option is bool and text.strip().lower() in ("true", "false", "1", "0", "yes", "no"):
            return text.strip().lower() in ("true", "1", "yes")
        if option in (int, float):
            try:
                return option(text)
            except ValueError:
                continue
        if option is str:
            return text
    names = " or ".join(getattr(o, "__name__", str(o)) for o in options)
    raise ConfigError(f"--{key}: cannot read {text!r} as {names}")


def _merge(base: dict[str, Any], update: dict[str, Any], where: str, source: str) -> None:
    for key, value in update.items():
        if key not in base:
            raise ConfigError(f"{source}: unknown key {where}{key}")
        if isinstance(base[key], dict) and isinstance(value, dict):
            _merge(base[key], value, f"{where}{key}.", source)
        else:
            base[key] = value


def _set(tree: dict[str, Any], schema: dict[str, Any], key: str, text: str) -> None:
    """Set ``key`` in ``tree`` to ``text`` read as the field's type in ``schema``."""
    *parents, leaf = key.split(".")
    node, typed = tree, schema
    for part in parents:
        if not isinstance(typed.get(part), dict):
            raise ConfigError(f"unknown config key --{key}")
        node, typed = node[part], typed[part]
    if leaf not in typed or isinstance(typed[leaf], dict):
        raise ConfigError(f"unknown config key --{key}")
    node[leaf] = parse_value(text, typed[leaf], key)


def _dataclass_from(cls: type, data: dict[str, Any], section: str) -> Any:
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(f"unknown key(s) {', '.join(f'{section}.{k}' for k in unknown)}")
    obj = cls(**data)
    for f in dataclasses.fields(cls):  # ints are fine where floats are expected; nothing else is coerced
        value, default = getattr(obj, f.name), getattr(cls(), f.name)
        if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
            setattr(obj, f.name, float(value))
        elif type(value) is not type(default):
            raise ConfigError(f"{section}.{f.name} must be {type(default).__name__}, got {value!r}")
    return obj


def load_config(path: str | Path | None, overrides: dict[str, str] | None = None) -> RunConfig:
    """Read a config file (or start from defaults when ``path`` is None) and apply ``--key value`` overrides.

    Order: the file's ``model.preset`` (or an override of it) picks the preset, the file's other
    fields are merged over it, then command-line overrides are applied, typed like the fields
    they replace. Unknown keys and wrong types raise ``ConfigError`` naming the key.
    """
    overrides = dict(overrides or {})
    raw: dict[str, Any] = {}
    source = "defaults"
    if path is not None:
        source = str(path)
        try:
            raw = json.loads(Path(path).read_text())
        except FileNotFoundError:
            raise ConfigError(f"config file {path} does not exist") from None
        except (OSError, json.JSONDecodeError) as err:
            raise ConfigError(f"config file {path} is not readable JSON: {err}") from None
        if not isinstance(raw, dict):
            raise ConfigError(f"config file {path}: expected a JSON object at the top level")
    unknown = sorted(set(raw) - {"model", "data", "train"})
    if unknown:
        raise ConfigError(f"{source}: unknown section(s) {', '.join(unknown)} (expected model, data, train)")

    model_raw = dict(raw.get("model", {}))
    preset_name = overrides.pop("model.preset", model_raw.pop("preset", "small"))
    try:
        tree = {"model": preset(preset_name).to_dict(), "data": dataclasses.asdict(DataConfig()), "train": dataclasses.asdict(TrainConfig())}
    except ValueError as err:
        raise ConfigError(f"{source}: {err}") from None
    schema = {"model": _schema(ModelConfig), "data": _schema(DataConfig), "train": _schema(TrainConfig)}
    _merge(tree, {"model": model_raw, "data": raw.get("data", {}), "train": raw.get("train", {})}, "", source)
    for key, text in overrides.items():
        _set(tree, schema, key, text)
    try:
        model = ModelConfig.from_dict(tree["model"])
    except ValueError as err:
        raise ConfigError(f"{source}: {err}") from None
    run = RunConfig(
        model=model,
        data=_dataclass_from(DataConfig, tree["data"], "data"),
        train=_dataclass_from(TrainConfig, tree["train"], "train"),
        preset=preset_name,
    )
    return run.validate()
