"""Bone-name matching for retargeting: JSON presets (``bone_maps/``), names compared in a
normalised form, and the automatic choice among presets, same names and a structural map.

Why plain Python: both the add-on and tests without Blender use it; the add-on keeps only what
touches the armature (``dimgesture_addon/bone_map.py``).
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path

PRESET_DIR = Path(__file__).with_name("bone_maps")
SAME_NAMES = "Same names"
STRUCTURE = "Bone structure"

_PREFIX = re.compile(r"^(?:.*[:|])?(?:(?:DEF|ORG|MCH)[-_.])?", re.IGNORECASE)
_SIDE_PATTERNS = (
    re.compile(r"^(?P<side>left|right)(?P<rest>.*)$", re.IGNORECASE),
    re.compile(r"^(?P<rest>.*?)[._\-\s]?(?P<side>left|right)(?P<num>[._]\d+)?$", re.IGNORECASE),
    re.compile(r"^(?P<side>[lr])[._\-\s](?P<rest>.*)$", re.IGNORECASE),
    re.compile(r"^(?P<rest>.*?)[._\-\s](?P<side>[lr])(?P<num>[._]\d+)?$", re.IGNORECASE),
    re.compile(r"^(?P<pre>.*?)[._\-\s](?P<side>[lr])[._\-\s](?P<rest>.*)$", re.IGNORECASE),
)


def normalize_name(name: str) -> str:
    """A bone name reduced to ``side:word`` so naming conventions compare equal.

    ``mixamorig:LeftHandIndex1`` → ``l:handindex1``; ``DEF-upper_arm.L.001`` → ``l:upperarm001``;
    ``Bip01 R Forearm`` → ``r:bip01forearm``; ``spine.003`` → ``:spine003``.
    """
    stem = _PREFIX.sub("", name, count=1)
    side = ""
    for pattern in _SIDE_PATTERNS:
        m = pattern.match(stem)
        if m and (m.groupdict().get("rest") or m.groupdict().get("pre")):
            side = m["side"][0].lower()
            stem = (m.groupdict().get("pre") or "") + m["rest"] + (m.groupdict().get("num") or "")
            break
    return f"{side}:{re.sub(r'[^0-9a-z]', '', stem.lower())}"


@dataclass(frozen=True)
class Preset:
    """A named map from source joint names to rig bone names, read from ``bone_maps/*.json``."""

    name: str
    description: str
    mapping: dict[str, str]


def load_preset(path: str | Path) -> Preset:
    """Read and check one preset file (ValueError naming the file and the problem)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"bone map preset {path}: cannot be read as JSON ({err})") from err
    if not isinstance(data, dict) or not isinstance(data.get("name"), str) or not isinstance(data.get("map"), dict):
        raise ValueError(f"bone map preset {path}: needs a 'name' string and a 'map' object")
    mapping = data["map"]
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in mapping.items()):
        raise ValueError(f"bone map preset {path}: 'map' must map joint names to bone names (strings)")
    values = list(mapping.values())
    doubled = sorted({v for v in values if values.count(v) > 1})
    if doubled:
        raise ValueError(f"bone map preset {path}: bones driven twice: {', '.join(doubled)}")
    return Preset(data["name"], str(data.get("description", "")), dict(mapping))


@functools.cache
def presets() -> tuple[Preset, ...]:
    """The bundled presets, sorted by file name."""
    return tuple(load_preset(p) for p in sorted(PRESET_DIR.glob("*.json")))


def preset_named(name: str) -> Preset:
    for preset in presets():
        if preset.name == name:
            return preset
    raise KeyError(f"no bone map preset called {name!r} (have: {', '.join(p.name for p in presets())})")


def resolve(mapping: dict[str, str], source_names: list[str], bone_names: list[str]) -> dict[str, str]:
    """Keep the entries whose joint exists, pointing each at the rig's own spelling of the bone
    (exact name first, else the unique bone with the same normalised name)."""
    by_key: dict[str, list[str]] = {}
    for bone in bone_names:
        by_key.setdefault(normalize_name(bone), []).append(bone)
    exact = set(bone_names)
    result: dict[str, str] = {}
    used: set[str] = set()
    for joint, bone in mapping.items():
        if joint not in source_names or not bone:
            continue
        if bone not in exact:
            candidates = by_key.get(normalize_name(bone), [])
            bone = candidates[0] if len(candidates) == 1 else ""
        if bone and bone not in used:
            result[joint] = bone
            used.add(bone)
    return result


def auto_map(source_names: list[str], bone_names: list[str], driven: frozenset[str] = frozenset(),
             structure: dict[str, str] | None = None) -> tuple[str, dict[str, str]]:
    """The best-matching preset (or same names, or the ``structure`` map) for this rig, completed
    by same-name matches.

    Returns the chosen preset's name and the map. A map that reaches both arms beats one that
    does not; then most matched bones wins, not counting ``driven`` bones (their pose is
    overwritten by constraints, like a generated Rigify rig's ``DEF-`` bones, so keys on them
    would do nothing); then most names matched exactly (``DEF-spine`` is Rigify deform, not the
    metarig's ``spine`` renamed); then a named map over the structural one, the same-name map,
    then presets in file order.
    """
    identity = {n: n for n in source_names}
    candidates = [(SAME_NAMES, identity)] + [(p.name, p.mapping) for p in presets()]
    if structure:
        candidates.append((STRUCTURE, structure))
    scored = []
    for name, mapping in candidates:
        resolved = resolve(mapping, source_names, bone_names)
        free = sum(1 for b in resolved.values() if b not in driven)
        exact = sum(1 for j, b in resolved.items() if mapping[j] == b)
        arms = not missing_arm_chains({j: b for j, b in resolved.items() if b not in driven})
        named = name != STRUCTURE
        scored.append(((arms, free, len(resolved), exact, named), name, resolved))
    _, best_name, best = max(scored, key=lambda item: item[0])
    extra = resolve({j: j for j in source_names if j not in best}, source_names,
                    [b for b in bone_names if b not in best.values() and b not in driven])
    return best_name, {j: (best.get(j) or extra[j]) for j in source_names if j in best or j in extra}


ARM_JOINTS = {"left arm": ("LeftArm", "LeftForeArm", "LeftHand"), "right arm": ("RightArm", "RightForeArm", "RightHand")}


def missing_arm_chains(mapping: dict[str, str]) -> list[str]:
    """The arm chains (``ARM_JOINTS``) that ``mapping`` (joint → bone) leaves without a bone."""
    return [chain for chain, joints in ARM_JOINTS.items() if not all(mapping.get(j) for j in joints)]
