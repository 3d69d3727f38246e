"""The one JSON/command-line parser of every config dataclass (model, scheduler, data, train, output).

Why one: the model config inside a checkpoint, the scheduler config beside it and a training run's
config file are all read with the same rules: unknown keys and wrong types raise ``ConfigError``
naming the dotted key, ints are accepted where floats are expected, nothing else is coerced. Keys
that older files used are renamed through ``LEGACY_KEYS``, so old run configs and format-1
checkpoints load unchanged.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any

from .errors import DimGestureError

__all__ = ["ConfigError", "LEGACY_KEYS", "build", "schema", "parse_value", "set_key", "merge", "rename_legacy"]


class ConfigError(DimGestureError, ValueError):
    """A config file, checkpoint config or override is malformed (the message names the key)."""

    kind = "config"


# Old dotted name -> its place now, in the tree ``{model, scheduler, data, output, train}``. The longest
# matching prefix wins. Entries without ``model.`` are format-1 checkpoint keys (``fps``, ``frontend`` and
# ``sampler`` sat at the top of its config.json); the ``model.`` ones are what ModelConfig held before the
# split, in run configs and checkpoints alike.
LEGACY_KEYS: dict[str, str] = {
    "fps": "data.fps",
    "frontend": "model.frontend",
    "sampler.name": "scheduler.sampler",
    "sampler.steps": "scheduler.steps",
    "sampler.guidance_scale": "scheduler.guidance_scale",
    "sampler.smooth_seconds": "output.smooth_seconds",
    "model.fps": "data.fps",
    "model.dropout": "train.dropout",
    "model.diffusion.cond_drop_prob": "train.cond_drop_prob",
    "model.diffusion": "scheduler",
    "model.sampler.name": "scheduler.sampler",
    "model.sampler.steps": "scheduler.steps",
    "model.sampler.guidance_scale": "scheduler.guidance_scale",
    "model.sampler.smooth_seconds": "output.smooth_seconds",
    "data.window_seconds": "data.train_window_seconds",
}


def renamed(key: str) -> str:
    """``key``'s current dotted name (itself when it is not a legacy name)."""
    parts = key.split(".")
    for n in range(len(parts), 0, -1):
        new = LEGACY_KEYS.get(".".join(parts[:n]))
        if new is not None:
            return ".".join([new, *parts[n:]])
    return key


def _flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat = {}
    for key, value in tree.items():
        if isinstance(value, dict) and value:
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[prefix + key] = value
    return flat


def rename_legacy(tree: dict[str, Any], source: str) -> dict[str, Any]:
    """A copy of ``tree`` with legacy keys moved to their current place (see ``LEGACY_KEYS``).

    Giving a setting under both its old and its new name is an error: which one wins would be a guess.
    """
    out: dict[str, Any] = {}
    origin: dict[str, str] = {}
    for key, value in _flatten(tree).items():
        new = renamed(key)
        if new in origin:
            raise ConfigError(f"{source}: {origin[new]} and {key} set the same thing ({new}); keep only {new}")
        origin[new] = key
        node = out
        *parents, leaf = new.split(".")
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"{source}: {key} cannot go under {'.'.join(parents)}")
        node[leaf] = value
    return out


def build(cls: type, data: Any, where: str = ""):
    """A ``cls`` dataclass from a JSON object; unknown keys and wrong types raise ``ConfigError``.

    ``where`` is the dotted prefix of the section (``"model."``), used in messages.
    """
    if not isinstance(data, dict):
        raise ConfigError(f"{where.rstrip('.') or 'config'}: expected an object, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(f"unknown config key(s) {', '.join(where + k for k in unknown)}")
    kwargs = {}
    for key, value in data.items():
        hint = hints[key]
        if dataclasses.is_dataclass(hint):
            kwargs[key] = build(hint, value, f"{where}{key}.")
        else:
            kwargs[key] = _coerce(hint, value, where + key)
    return cls(**kwargs)


def _options(hint: Any) -> tuple:
    return typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else (hint,)


def _coerce(hint: Any, value: Any, name: str) -> Any:
    """Accept JSON values for a field's annotated type (ints for floats, no bools for numbers)."""
    for option in _options(hint):
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
    raise ConfigError(f"config key {name} has the wrong type ({type(value).__name__}: {value!r})")


def schema(cls: type) -> dict[str, Any]:
    """Field name -> type hint (nested dataclasses as nested dicts): how to read a command-line value."""
    hints = typing.get_type_hints(cls)
    return {
        f.name: schema(hints[f.name]) if dataclasses.is_dataclass(hints[f.name]) else hints[f.name]
        for f in dataclasses.fields(cls)
    }


def parse_value(text: str, hint: Any, key: str) -> Any:
    """Read a command-line string as the field's annotated type (``int | str`` tries int first)."""
    options = _options(hint)
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


def merge(base: dict[str, Any], update: dict[str, Any], source: str, where: str = "") -> None:
    """Merge ``update`` into ``base`` in place; a key ``base`` lacks raises ``ConfigError``."""
    for key, value in update.items():
        if key not in base:
            raise ConfigError(f"{source}: unknown config key {where}{key}")
        if isinstance(base[key], dict) and isinstance(value, dict):
            merge(base[key], value, source, f"{where}{key}.")
        else:
            base[key] = value


def set_key(tree: dict[str, Any], types_: dict[str, Any], key: str, text: str) -> None:
    """Set dotted ``key`` (legacy names accepted) in ``tree`` to ``text`` read as its type in ``types_``."""
    *parents, leaf = renamed(key).split(".")
    node, typed = tree, types_
    for part in parents:
        if not isinstance(typed.get(part), dict):
            raise ConfigError(f"unknown config key --{key}")
        node, typed = node[part], typed[part]
    if leaf not in typed or isinstance(typed[leaf], dict):
        raise ConfigError(f"unknown config key --{key}")
    node[leaf] = parse_value(text, typed[leaf], key)
