"""Takes: the variations of one Generate run, listed on the armature so the animator can audition and keep one.

Each take is its own action (named after the clip and its seed) and, with NLA output, its own
track. The list lives on the armature object (``Object.dimgesture_takes``, saved in the .blend;
its action pointers keep the takes' actions in the file). Making a take active assigns its
action, or unmutes its track and mutes the other takes' tracks.
"""

from __future__ import annotations

import bpy
from bpy.props import CollectionProperty, IntProperty, PointerProperty, StringProperty

from . import compat


class DimGestureTake(bpy.types.PropertyGroup):
    # ``name`` (the take's action name when it was made) comes with PropertyGroup
    action: PointerProperty(type=bpy.types.Action, name="Action")
    seed: IntProperty(name="Seed")
    clip: StringProperty(name="Clip")
    track: StringProperty(name="NLA track", description="The take's NLA track (empty: the take is an action)")


def record(armature, clip: str, entries: list[tuple[int, bpy.types.Action, str]]) -> None:
    """Replace the armature's list of takes with ``entries`` (seed, action, NLA track name); the first is active."""
    armature.dimgesture_takes.clear()
    for seed, action, track in entries:
        take = armature.dimgesture_takes.add()
        take.name, take.action, take.seed, take.clip, take.track = action.name, action, seed, clip, track
    armature.dimgesture_take_index = 0


def activate(armature, index: int) -> None:
    """Make take ``index`` the one that plays (assign its action, or unmute only its NLA track)."""
    items = armature.dimgesture_takes
    if not 0 <= index < len(items):
        raise IndexError(f"'{armature.name}' has no take {index} (it has {len(items)})")
    take = items[index]
    if take.action is None:
        raise ValueError(f"the action of take '{take.name}' was deleted")
    anim = armature.animation_data
    if take.track:
        tracks = anim.nla_tracks if anim else {}
        if take.track not in tracks:
            raise ValueError(f"the NLA track '{take.track}' of take '{take.name}' was deleted")
        for other in items:
            if other.track in tracks:
                tracks[other.track].mute = other.track != take.track
    else:
        compat.assign_action(armature, take.action)
    armature.dimgesture_take_index = index


class DIMGESTURE_OT_use_take(bpy.types.Operator):
    """Make this take the one that plays"""

    bl_idname = "dimgesture.use_take"
    bl_label = "Use take"
    bl_options = {"REGISTER", "UNDO"}

    index: IntProperty(name="Take", min=0)

    @classmethod
    def poll(cls, context):
        obj = context.active_object
        if obj is None or obj.type != "ARMATURE" or not len(obj.dimgesture_takes):
            cls.poll_message_set("Select an armature that has generated takes")
            return False
        return True

    def execute(self, context):
        try:
            activate(context.active_object, self.index)
        except (IndexError, ValueError) as err:
            self.report({"ERROR"}, str(err))
            return {"CANCELLED"}
        return {"FINISHED"}


class DIMGESTURE_UL_takes(bpy.types.UIList):
    def draw_item(self, context, layout, data, item, icon, active_data, active_prop, index=0, flt_flag=0):
        playing = index == data.dimgesture_take_index
        row = layout.row(align=True)
        row.label(text=f"{item.clip}  seed {item.seed}", icon="PLAY" if playing else "ACTION")
        row.label(text=item.action.name if item.action else "(deleted)")
        op = row.operator(DIMGESTURE_OT_use_take.bl_idname, text="", icon="CHECKMARK" if playing else "RADIOBUT_OFF",
                          emboss=not playing)
        op.index = index


def draw_takes(layout, armature) -> None:
    """The takes list (only when a run made more than one)."""
    if len(armature.dimgesture_takes) > 1:
        layout.label(text="Takes", icon="SEQUENCE")
        layout.template_list("DIMGESTURE_UL_takes", "", armature, "dimgesture_takes", armature,
                             "dimgesture_take_row", rows=min(len(armature.dimgesture_takes), 6))


classes = (DimGestureTake, DIMGESTURE_OT_use_take, DIMGESTURE_UL_takes)


def register() -> None:
    bpy.types.Object.dimgesture_takes = CollectionProperty(type=DimGestureTake)
    bpy.types.Object.dimgesture_take_index = IntProperty(name="Playing take", min=0)
    bpy.types.Object.dimgesture_take_row = IntProperty(name="Selected take", min=0)  # the list's highlight only


def unregister() -> None:
    del bpy.types.Object.dimgesture_take_row
    del bpy.types.Object.dimgesture_take_index
    del bpy.types.Object.dimgesture_takes
