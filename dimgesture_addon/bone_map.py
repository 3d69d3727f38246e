"""Which rig bone follows which source joint, on the armature: presets and name matching
(``backend/motion/bone_names.py``, plain Python), structure (``humanoid_map``), and the editable map.

The map lives on the armature object (``Object.dimgesture_bone_map``) so it is saved with the
.blend and each character keeps its own. An empty map is filled automatically: every preset
and a same-name map are tried with names compared in a normalised form (namespace and
``DEF-``/``ORG-``/``MCH-`` prefixes, case, separators and side spellings ignored), and so is the
map found from the rig's bone structure (``humanoid_map``); the one that reaches both arms and
matches the most bones wins. A map can be exported and imported as JSON in the presets' format.
"""

from __future__ import annotations

import json
from pathlib import Path

import bpy
from bpy.props import CollectionProperty, EnumProperty, IntProperty, PointerProperty, StringProperty
from bpy_extras.io_utils import ExportHelper, ImportHelper

from ..backend.motion.bone_names import (STRUCTURE, Preset, auto_map, load_preset, missing_arm_chains, preset_named, presets,
                                         resolve)
from . import humanoid_map

AUTO = "AUTO"

_OVERRIDING = {"COPY_TRANSFORMS", "COPY_ROTATION"}


def driven_bones(obj: bpy.types.Object) -> frozenset[str]:
    """Pose bones whose rotation an enabled, full-influence constraint overwrites."""
    return frozenset(
        pb.name for pb in obj.pose.bones
        if any(c.type in _OVERRIDING and not c.mute and c.influence >= 0.999 for c in pb.constraints))


# --- the map stored on the armature object -------------------------------------------------------


class DIMGESTURE_PG_bone_pair(bpy.types.PropertyGroup):
    source: StringProperty(name="Joint", description="Joint of the model's skeleton")
    target: StringProperty(name="Bone", description="Bone of this armature that follows the joint (empty: none)")


class DIMGESTURE_PG_bone_map(bpy.types.PropertyGroup):
    pairs: CollectionProperty(type=DIMGESTURE_PG_bone_pair)
    active_index: IntProperty(name="Active pair")
    preset: StringProperty(name="Preset", description="Where the map came from (preset or automatic match)")


def store(obj: bpy.types.Object, source_names: list[str], mapping: dict[str, str], preset: str) -> None:
    """Write one row per source joint (unmapped joints get an empty bone) onto ``obj``."""
    settings = obj.dimgesture_bone_map
    settings.pairs.clear()
    for joint in source_names:
        pair = settings.pairs.add()
        pair.source = joint
        pair.target = mapping.get(joint, "")
    settings.preset = preset
    settings.active_index = 0


def compute(obj: bpy.types.Object, source, preset: str = AUTO) -> tuple[str, dict[str, str]]:
    """(name, map) for ``obj`` from a preset name, from its bone structure (``STRUCTURE``), or
    automatically with ``AUTO``; ``source`` is the model's Skeleton or its joint names."""
    source_names = list(getattr(source, "names", source))
    bones = [b.name for b in obj.data.bones]
    if preset in (AUTO, STRUCTURE):
        driven = driven_bones(obj)
        structure = humanoid_map.structural_map(obj, source, exclude=driven)
        if preset == STRUCTURE:
            return STRUCTURE, structure
        name, mapping = auto_map(source_names, bones, driven, structure)
        return f"Auto: {name}", mapping
    return preset, resolve(preset_named(preset).mapping, source_names, bones)


def fill(obj: bpy.types.Object, source, preset: str = AUTO) -> str:
    """Fill ``obj``'s map from a preset name, or automatically with ``AUTO``; returns the name used."""
    preset, mapping = compute(obj, source, preset)
    store(obj, list(getattr(source, "names", source)), mapping, preset)
    return preset


def chosen_map(obj: bpy.types.Object, source) -> tuple[str | None, dict[str, str]]:
    """(None, the stored map) when ``obj`` has one for ``source``, else (preset name, the automatic map)."""
    source_names = list(getattr(source, "names", source))
    stored = {p.source: p.target for p in obj.dimgesture_bone_map.pairs if p.target and p.source in source_names}
    return (None, stored) if stored else compute(obj, source)


def current_map(obj: bpy.types.Object, source) -> dict[str, str]:
    """The map stored on ``obj`` for ``source``, or (when none is) the automatic one, without storing it."""
    return chosen_map(obj, source)[1]


def map_problems(obj: bpy.types.Object, mapping: dict[str, str]) -> list[str]:
    """Why armature ``obj`` cannot be keyed through ``mapping`` (joint → bone) at all: no bone mapped, or
    bones the armature does not have; empty when the map is usable."""
    if not mapping:
        return [f"No bone of '{obj.name}' matches a joint of the model's skeleton: map its bones in the "
                "DiM-Gesture panel (Bone map) or choose a bone map preset."]
    missing = sorted(b for b in mapping.values() if b not in obj.data.bones)
    if missing:
        return [f"The bone map of '{obj.name}' names bones it does not have: {', '.join(missing)}. "
                "Fix the map or fill it again from a preset."]
    return []


def use_map(obj: bpy.types.Object, source, mapping: dict[str, str], preset: str | None) -> dict[str, str]:
    """Key through ``mapping`` (from ``chosen_map``: ``preset`` names the automatic match, None a stored map):
    an automatic map is stored on ``obj`` first when it still has none for ``source``'s joints, so the panel
    shows what was keyed through. Raises ValueError when the map is unusable (``map_problems``)."""
    problems = map_problems(obj, mapping)
    if problems:
        raise ValueError(" ".join(problems))
    source_names = list(getattr(source, "names", source))
    if preset is not None and not any(p.source in source_names and p.target for p in obj.dimgesture_bone_map.pairs):
        store(obj, source_names, mapping, preset)
    return mapping


def bone_map_for(obj: bpy.types.Object, source) -> dict[str, str]:
    """The map stored on armature ``obj`` for ``source`` (a Skeleton or its joint names),
    filled automatically first when empty or made for other joints; ValueError when unusable."""
    preset, mapping = chosen_map(obj, source)
    return use_map(obj, source, mapping, preset)


def _preset_items(self, context):
    items = [(AUTO, "Automatic", "Try every preset, same names and the bone structure; keep the best match"),
             (STRUCTURE, "From bone structure", "Find hips, spine, arms, legs and fingers from the bones' "
              "hierarchy and rest pose, whatever their names")]
    return items + [(p.name, p.name, p.description) for p in presets()]


def _armature_poll(cls, context) -> bool:
    """Bone map operators need an active armature; the tooltip says so when there is none."""
    obj = context.active_object
    if obj is None or obj.type != "ARMATURE":
        cls.poll_message_set("Select an armature first")
        return False
    return True


class DIMGESTURE_OT_bone_map_fill(bpy.types.Operator):
    """Fill the active armature's bone map from a preset or by matching names"""

    bl_idname = "dimgesture.bone_map_fill"
    bl_label = "Fill Bone Map"
    bl_options = {"REGISTER", "UNDO"}

    preset: EnumProperty(name="Preset", items=_preset_items)

    @classmethod
    def poll(cls, context):
        return _armature_poll(cls, context)

    def execute(self, context):
        from ..backend.motion.skeleton import default_skeleton

        obj = context.active_object
        names = default_skeleton().names
        used = fill(obj, default_skeleton(), self.preset)
        count = sum(1 for p in obj.dimgesture_bone_map.pairs if p.target)
        self.report({"INFO"}, f"Bone map '{used}': {count} of {len(names)} joints matched on '{obj.name}'")
        return {"FINISHED"}


class DIMGESTURE_OT_bone_map_export(bpy.types.Operator, ExportHelper):
    """Save the active armature's bone map as a JSON file (the presets' format: drop it into backend/motion/bone_maps/ to make it one)"""

    bl_idname = "dimgesture.bone_map_export"
    bl_label = "Export Bone Map"

    filename_ext = ".json"
    filter_glob: StringProperty(default="*.json", options={"HIDDEN"})

    poll = classmethod(_armature_poll)

    def execute(self, context):
        obj = context.active_object
        settings = obj.dimgesture_bone_map
        mapping = {p.source: p.target for p in settings.pairs if p.target}
        if not mapping:
            self.report({"ERROR"}, f"The bone map of '{obj.name}' is empty: fill it first.")
            return {"CANCELLED"}
        data = {"name": f"{obj.name} bone map", "description": f"Exported from '{obj.name}' ({settings.preset or 'edited'})",
                "map": mapping}
        try:
            Path(self.filepath).write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        except OSError as err:
            self.report({"ERROR"}, f"Could not write the bone map to {self.filepath}: {err}")
            return {"CANCELLED"}
        self.report({"INFO"}, f"{len(mapping)} pairs of '{obj.name}' written to {self.filepath}")
        return {"FINISHED"}


class DIMGESTURE_OT_bone_map_import(bpy.types.Operator, ImportHelper):
    """Replace the active armature's bone map with one read from a JSON file (exported, or a preset)"""

    bl_idname = "dimgesture.bone_map_import"
    bl_label = "Import Bone Map"
    bl_options = {"REGISTER", "UNDO"}

    filename_ext = ".json"
    filter_glob: StringProperty(default="*.json", options={"HIDDEN"})

    poll = classmethod(_armature_poll)

    def execute(self, context):
        from ..backend.motion.skeleton import default_skeleton

        obj = context.active_object
        names = default_skeleton().names
        try:
            preset = load_preset(self.filepath)
        except ValueError as err:
            self.report({"ERROR"}, str(err))
            return {"CANCELLED"}
        mapping = resolve(preset.mapping, names, [b.name for b in obj.data.bones])
        if not mapping:
            self.report({"ERROR"}, f"No bone named in {self.filepath} exists in '{obj.name}': its map was kept.")
            return {"CANCELLED"}
        store(obj, names, mapping, f"Imported: {Path(self.filepath).name}")
        unmatched = sorted(j for j, b in preset.mapping.items() if j in names and j not in mapping)
        message = f"Bone map '{preset.name}': {len(mapping)} joints mapped on '{obj.name}'"
        if unmatched:
            self.report({"WARNING"}, f"{message}; no bone found for {', '.join(unmatched)}")
        else:
            self.report({"INFO"}, message)
        return {"FINISHED"}


class DIMGESTURE_UL_bone_map(bpy.types.UIList):
    """One row per source joint: its name and a searchable bone field."""

    bl_idname = "DIMGESTURE_UL_bone_map"

    def draw_item(self, context, layout, data, item, icon, active_data, active_propname, index):
        row = layout.row(align=True)
        row.label(text=item.source, icon="BONE_DATA" if item.target else "BLANK1")
        row.prop_search(item, "target", item.id_data.data, "bones", text="")


def draw_bone_map(layout: bpy.types.UILayout, context: bpy.types.Context) -> None:
    """Draw the active armature's bone map (preset menu + editable list) into ``layout``."""
    obj = context.active_object
    if obj is None or obj.type != "ARMATURE":
        layout.label(text="Select an armature to edit its bone map", icon="INFO")
        return
    settings = obj.dimgesture_bone_map
    row = layout.row(align=True)
    row.operator_menu_enum(DIMGESTURE_OT_bone_map_fill.bl_idname, "preset", text=settings.preset or "Fill from")
    row.operator(DIMGESTURE_OT_bone_map_import.bl_idname, text="", icon="IMPORT")
    row.operator(DIMGESTURE_OT_bone_map_export.bl_idname, text="", icon="EXPORT")
    mapped = sum(1 for p in settings.pairs if p.target)
    layout.label(text=f"{mapped} of {len(settings.pairs)} joints mapped" if settings.pairs
                 else "Empty: filled automatically on Generate")
    if settings.pairs:
        draw_coverage(layout, {p.source: p.target for p in settings.pairs if p.target})
    layout.template_list(DIMGESTURE_UL_bone_map.bl_idname, "", settings, "pairs", settings, "active_index", rows=6)


def draw_coverage(layout: bpy.types.UILayout, mapping: dict[str, str]) -> None:
    """What will move: joints mapped per chain; chains that stay still and why; missing arms."""
    col = layout.column(align=True)
    for chain, count, total in humanoid_map.coverage(mapping):
        if count:
            col.label(text=f"{chain.capitalize()}: {count} of {total} joints move", icon="CHECKMARK")
        else:
            col.label(text=f"{chain.capitalize()}: stay still (no bone mapped)", icon="DOT")
    missing = missing_arm_chains(mapping)
    if missing:
        col.label(text=f"No {' or '.join(missing)}: Generate will refuse. Map them below.", icon="ERROR")


classes = (DIMGESTURE_PG_bone_pair, DIMGESTURE_PG_bone_map, DIMGESTURE_OT_bone_map_fill, DIMGESTURE_OT_bone_map_export,
           DIMGESTURE_OT_bone_map_import, DIMGESTURE_UL_bone_map)


def register() -> None:
    for cls in classes:
        bpy.utils.register_class(cls)
    bpy.types.Object.dimgesture_bone_map = PointerProperty(type=DIMGESTURE_PG_bone_map)


def unregister() -> None:
    del bpy.types.Object.dimgesture_bone_map
    for cls in reversed(classes):
        bpy.utils.unregister_class(cls)
