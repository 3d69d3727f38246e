"""Training run configuration: a JSON file with ``model``, ``scheduler``, ``data``, ``train`` and ``output`` sections.

Why one tree, split by concern: every field has a dotted name (``train.lr``, ``model.frontend.n_mels``)
that the command line can override, and the resolved tree is written next to the run so a result can
always be traced back to the exact settings. ``model`` (architecture + frontend), ``scheduler`` (noise
schedule + sampler defaults) and ``output`` (smoothing) go into the checkpoint; ``train`` never does;
``data`` is where the trainer records what the cache says (fps). The ``model`` section names a preset
(``"preset": "small"``) for the model and the scheduler, and overrides any of their fields. Parsing is
``backend.config_parsing``'s, the same as a checkpoint's.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from ..config_parsing import LEGACY_KEYS, ConfigError, build, merge, rename_legacy, schema, set_key
from ..model.config import ModelConfig, OutputConfig, SchedulerConfig, preset, scheduler_preset

__all__ = ["ConfigError", "DataConfig", "TrainConfig", "RunConfig", "load_config", "field_paths", "legacy_paths",
           "SECTIONS", "SCHEDULES"]

SECTIONS = ("model", "scheduler", "data", "train", "output")
SCHEDULES = ("cosine", "constant", "linear")
PRECISIONS = ("no", "fp16", "bf16")


@dataclass
class DataConfig:
    """Where the prepared feature cache is and how it is cut into training windows.

    ``fps`` is a property of the cache: leave it None and the trainer records the cache's; a value
    that differs from the cache's is an error, not a silent resample.
    """

    cache: str = "data/cache-demo"
    fps: float | None = None
    train_window_seconds: float = 8.0
    hop_seconds: float = 4.0
    mirror: bool = False
    num_workers: int = 0
    # "same_window": the style branch reads the window it animates (the paper's setting);
    # "other_window": another window of the same take, so it learns the speaker, not the words;
    # "speaker": another take of the speaker whose habits the motion has (needs make-corpus labels)
    style_reference: str = "same_window"


STYLE_REFERENCES = ("same_window", "other_window", "speaker")


@dataclass
class TrainConfig:
    """Optimisation, regularisation, logging and checkpointing of one run (written to ``out``).

    ``dropout`` (on the audio latent) and ``cond_drop_prob`` (share of rows trained without audio, for
    classifier-free guidance) only matter while training, so checkpoints do not carry them.
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
    dropout: float = 0.1
    cond_drop_prob: float = 0.1
    # > 0: a linear probe must tell the style reference's speaker from the style vector (cross-entropy
    # times this weight, added to the loss), so the style branch learns who is gesturing
    speaker_id_weight: float = 0.0
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
    """The resolved tree: ``model`` and ``scheduler`` with the preset already applied."""

    model: ModelConfig = field(default_factory=lambda: preset("small"))
    scheduler: SchedulerConfig = field(default_factory=lambda: scheduler_preset("small"))
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
    preset: str = "small"

    def to_dict(self) -> dict[str, Any]:
        tree = {name: dataclasses.asdict(section) for name, section in _sections(self).items()}
        tree["model"] = {"preset": self.preset, **tree["model"]}
        return tree

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
            (0 <= t.dropout < 1, f"train.dropout must be in [0, 1), got {t.dropout}"),
            (0 <= t.cond_drop_prob < 1, f"train.cond_drop_prob must be in [0, 1), got {t.cond_drop_prob}"),
            (t.speaker_id_weight >= 0, f"train.speaker_id_weight must be >= 0, got {t.speaker_id_weight}"),
            (t.speaker_id_weight == 0 or d.style_reference != "same_window",
             "train.speaker_id_weight needs a style reference from elsewhere (data.style_reference other_window or speaker)"),
            (0 <= t.ema_decay < 1, f"train.ema_decay must be in [0, 1), got {t.ema_decay}"),
            (min(t.log_every, t.val_every, t.checkpoint_every) >= 1, "train.log_every, val_every and checkpoint_every must be >= 1"),
            (t.threads >= 0, f"train.threads must be >= 0 (0: PyTorch's default), got {t.threads}"),
            (t.keep_checkpoints >= 1, f"train.keep_checkpoints must be >= 1, got {t.keep_checkpoints}"),
            (d.fps is None or d.fps > 0, f"data.fps must be positive (or null: the cache's), got {d.fps}"),
            (d.train_window_seconds > 0 and d.hop_seconds > 0, "data.train_window_seconds and data.hop_seconds must be positive"),
            (d.style_reference in STYLE_REFERENCES,
             f"data.style_reference must be one of {', '.join(STYLE_REFERENCES)}, got {d.style_reference!r}"),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(message)
        return self


def _sections(run: RunConfig) -> dict[str, Any]:
    return {name: getattr(run, name) for name in SECTIONS}


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


def legacy_paths() -> list[str]:
    """Old dotted names of single fields that overrides still accept (``data.window_seconds``)."""
    current = set(field_paths())
    return [old for old, new in LEGACY_KEYS.items() if old.startswith(("model.", "data.")) and new in current]


def load_config(path: str | Path | None, overrides: dict[str, str] | None = None) -> RunConfig:
    """Read a config file (or start from defaults when ``path`` is None) and apply ``--key value`` overrides.

    Order: the file's ``model.preset`` (or an override of it) picks the model and scheduler presets,
    the file's other fields are merged over them, then command-line overrides are applied, typed like
    the fields they replace. Old key names are renamed (``config_parsing.LEGACY_KEYS``); unknown keys
    and wrong types raise ``ConfigError`` naming the key.
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
    raw = rename_legacy(raw, source)
    unknown = sorted(set(raw) - set(SECTIONS))
    if unknown:
        raise ConfigError(f"{source}: unknown section(s) {', '.join(unknown)} (expected {', '.join(SECTIONS)})")

    raw.setdefault("model", {})
    preset_name = overrides.pop("model.preset", raw["model"].pop("preset", "small"))
    try:
        tree = {"model": preset(preset_name).to_dict(), "scheduler": scheduler_preset(preset_name).to_dict()}
    except ValueError as err:
        raise ConfigError(f"{source}: {err}") from None
    tree.update({name: dataclasses.asdict(cls()) for name, cls in (("data", DataConfig), ("train", TrainConfig), ("output", OutputConfig))})
    merge(tree, raw, source)
    types_ = {name: schema(type(section)) for name, section in _sections(RunConfig()).items()}
    for key, text in overrides.items():
        set_key(tree, types_, key, text)
    try:
        run = RunConfig(
            model=ModelConfig.from_dict(tree["model"]),
            scheduler=SchedulerConfig.from_dict(tree["scheduler"]),
            data=build(DataConfig, tree["data"], "data."),
            train=build(TrainConfig, tree["train"], "train."),
            output=build(OutputConfig, tree["output"], "output.").validate(),
            preset=preset_name,
        )
    except ValueError as err:
        raise ConfigError(f"{source}: {err}") from None
    return run.validate()
