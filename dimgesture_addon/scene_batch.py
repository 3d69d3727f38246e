"""Whole scenes: which armature speaks which sound strip, stored in the .blend, generated with one button.

A dialogue scene has several characters, each with its own sound strips. The pairs live on the
scene (``Scene.dimgesture_pairs``: strip name → armature object); Generate with
``whole_scene=True`` (the panel's "Generate scene") turns every pair into one target of one
run, keyed together when all have arrived, so a cancel or an error changes nothing.
"""

from __future__ import annotations

import bpy
from bpy.props import CollectionProperty, IntProperty, PointerProperty, StringProperty

from . import compat, preflight


def _is_armature(_self, obj) -> bool:
    return obj.type == "ARMATURE"


class DimGesturePair(bpy.types.PropertyGroup):
    strip: StringProperty(name="Strip", description="Sound strip whose speech drives the armature")
    armature: PointerProperty(type=bpy.types.Object, name="Armature", poll=_is_armature,
                              description="Armature that speaks this strip")


def pairs(scene) -> list[tuple[str, bpy.types.Object | None]]:
    return [(p.strip, p.armature) for p in scene.dimgesture_pairs]


class DIMGESTURE_OT_pair_add(bpy.types.Operator):
    """Pair a sound strip with an armature: the panel's strip and the active armature, else the first unpaired strip"""

    bl_idname = "dimgesture.pair_add"
    bl_label = "Add strip → armature pair"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        scene = context.scene
        taken = {p.strip for p in scene.dimgesture_pairs}
        strips = [s.name for s in preflight.sound_strips(scene)]
        name = scene.dimgesture.strip_name if scene.dimgesture.strip_name not in taken else ""
        name = name or next((s for s in strips if s not in taken), "")
        pair = scene.dimgesture_pairs.add()
        pair.strip = name
        obj = context.active_object
        if obj is not None and obj.type == "ARMATURE":
            pair.armature = obj
        scene.dimgesture_pair_index = len(scene.dimgesture_pairs) - 1
        return {"FINISHED"}


class DIMGESTURE_OT_pair_remove(bpy.types.Operator):
    """Remove the selected strip → armature pair"""

    bl_idname = "dimgesture.pair_remove"
    bl_label = "Remove pair"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context):
        if not 0 <= context.scene.dimgesture_pair_index < len(context.scene.dimgesture_pairs):
            cls.poll_message_set("Select a pair in the list")
            return False
        return True

    def execute(self, context):
        scene = context.scene
        scene.dimgesture_pairs.remove(scene.dimgesture_pair_index)
        scene.dimgesture_pair_index = max(0, scene.dimgesture_pair_index - 1)
        return {"FINISHED"}


class DIMGESTURE_UL_pairs(bpy.types.UIList):
    def draw_item(self, context, layout, data, item, icon, active_data, active_prop, index=0, flt_flag=0):
        row = layout.row(align=True)
        editor = context.scene.sequence_editor
        if editor is not None:
            row.prop_search(item, "strip", editor, compat.sequencer_strips_attr(editor, nested=True), text="", icon="SOUND")
        else:
            row.prop(item, "strip", text="", icon="SOUND")
        row.prop(item, "armature", text="", icon="ARMATURE_DATA")


def draw_pairs(layout, context) -> None:
    """The pairs list with add/remove and the Generate scene button."""
    scene = context.scene
    row = layout.row()
    row.template_list("DIMGESTURE_UL_pairs", "", scene, "dimgesture_pairs", scene, "dimgesture_pair_index", rows=3)
    col = row.column(align=True)
    col.operator(DIMGESTURE_OT_pair_add.bl_idname, text="", icon="ADD")
    col.operator(DIMGESTURE_OT_pair_remove.bl_idname, text="", icon="REMOVE")
    layout.operator("dimgesture.generate", text="Generate scene", icon="SCENE_DATA").whole_scene = True


classes = (DimGesturePair, DIMGESTURE_OT_pair_add, DIMGESTURE_OT_pair_remove, DIMGESTURE_UL_pairs)


def register() -> None:
    bpy.types.Scene.dimgesture_pairs = CollectionProperty(type=DimGesturePair)
    bpy.types.Scene.dimgesture_pair_index = IntProperty(name="Selected pair", min=0)


def unregister() -> None:
    del bpy.types.Scene.dimgesture_pair_index
    del bpy.types.Scene.dimgesture_pairs
