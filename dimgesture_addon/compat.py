"""Version shims in one place: layered (slotted) actions since 4.4, strips vs sequences, progress bars.

Every branch is chosen by a feature test or by ``bpy.app.version`` passed through a
``version`` argument, so tests on one Blender can still select and check the other branch.
Sequencer collections are picked with ``hasattr``, never ``a or b``: an empty collection is
falsy and would silently select the wrong attribute.
"""

from __future__ import annotations

from collections.abc import Callable

import bpy

SLOTTED_ACTIONS = (4, 4, 0)

FCurveFactory = Callable[[str, int, str], "bpy.types.FCurve"]


def uses_slotted_actions(version: tuple[int, int, int] | None = None) -> bool:
    """Whether actions hold their F-curves in slots/layers/channelbags (Blender 4.4+)."""
    return tuple(version or bpy.app.version) >= SLOTTED_ACTIONS


def fcurve_factory(action, id_data, *, version=None) -> FCurveFactory:
    """A function ``new(data_path, index, group) -> FCurve`` adding curves for ``id_data`` to ``action``.

    4.4+: a slot for the datablock, one layer with one keyframe strip and its channelbag
    (groups set by hand, as 4.4/4.5 lack ``group_name``); before: ``action.fcurves.new(...,
    action_group=...)``.
    """
    if not uses_slotted_actions(version):
        return lambda path, index, group: action.fcurves.new(path, index=index, action_group=group)
    slot = action_slot_for(action, id_data)
    layer = action.layers[0] if len(action.layers) else action.layers.new("Layer")
    strip = layer.strips[0] if len(layer.strips) else layer.strips.new(type="KEYFRAME")
    channelbag = strip.channelbag(slot, ensure=True)

    def new(path: str, index: int, group: str):
        # 4.4/4.5 have no ``group_name`` argument yet: set the group afterwards.
        fcurve = channelbag.fcurves.new(path, index=index)
        groups = channelbag.groups
        fcurve.group = groups[group] if group in groups else groups.new(group)
        return fcurve

    return new


def _existing_slot(action, id_data):
    for slot in action.slots:
        if slot.target_id_type == id_data.id_type and slot.name_display == id_data.name:
            return slot
    return None


def action_slot_for(action, id_data):
    """The action's slot for ``id_data`` (created when missing; 4.4+ only)."""
    slot = _existing_slot(action, id_data)
    return slot if slot is not None else action.slots.new(id_type=id_data.id_type, name=id_data.name)


def action_fcurves(action, id_data, *, version=None):
    """The F-curves ``action`` holds for ``id_data`` (read only: nothing is created).

    4.4+: those of the channelbags for ``id_data``'s slot (every slot's when ``id_data`` is None;
    none when it has no slot); before: ``action.fcurves``.
    """
    if not uses_slotted_actions(version):
        return list(action.fcurves)
    slots = list(action.slots) if id_data is None else [_existing_slot(action, id_data)]
    curves = []
    for slot in filter(None, slots):
        for layer in action.layers:
            for strip in layer.strips:
                bag = strip.channelbag(slot)
                if bag is not None:
                    curves += bag.fcurves
    return curves


def assign_action(id_data, action, *, version=None) -> None:
    """Make ``action`` the active action of ``id_data`` (and pick its slot explicitly on 4.4+)."""
    anim = id_data.animation_data or id_data.animation_data_create()
    anim.action = action
    if uses_slotted_actions(version):
        anim.action_slot = action_slot_for(action, id_data)


def stash_action(id_data, *, version=None):
    """Move the active action into a muted NLA track, as Blender's own "stash" does.

    The previous animation stays in the file (the strip holds a user) and can be unmuted in
    the NLA editor, but no longer affects the pose. Returns the new track, or None.
    """
    moved = _action_to_new_track(id_data, "[Action Stash]", version)
    if moved is None:
        return None
    moved[0].mute = True
    return moved[0]


def _action_to_new_track(id_data, name: str | None, version):
    """(track, strip): the active action (with its slot) as the one strip of a new top NLA track; no
    active action any more. None when there is no active action. ``name`` None: the action's name."""
    anim = id_data.animation_data
    if anim is None or anim.action is None:
        return None
    action = anim.action
    slot = anim.action_slot if uses_slotted_actions(version) else None
    track = anim.nla_tracks.new()
    track.name = name or action.name
    strip = track.strips.new(action.name, int(action.frame_range[0]), action)
    if slot is not None and strip.action_slot != slot:  # re-assigning the slot a new strip already picked crashed bpy 5.0.1 here
        strip.action_slot = slot
    anim.action = None
    return track, strip


def sequencer_strips_attr(editor, nested: bool = False) -> str:
    """The name of ``editor``'s strip collection: ``strips`` in 4.4+/5.x, ``sequences`` in 4.2.

    ``nested=True`` names the one including strips inside meta strips (``strips_all`` / ``sequences_all``).
    """
    new, old = ("strips_all", "sequences_all") if nested else ("strips", "sequences")
    return new if hasattr(editor, new) else old


def sequencer_strips(scene, *, nested: bool = False):
    """The scene's sequencer strips (``strips`` in 4.4+/5.x, ``sequences`` in 4.2), or ``()``.

    ``nested=True`` includes strips inside meta strips (``strips_all`` / ``sequences_all``).
    """
    editor = scene.sequence_editor
    if editor is None:
        return ()
    return getattr(editor, sequencer_strips_attr(editor, nested))


def has_progress_bar() -> bool:
    """Whether ``UILayout.progress`` exists (Blender 4.0+)."""
    return "progress" in bpy.types.UILayout.bl_rna.functions


def draw_progress(layout, factor: float, text: str, *, progress_bar: bool | None = None) -> None:
    """A progress bar where ``UILayout.progress`` exists, else a percentage label."""
    if has_progress_bar() if progress_bar is None else progress_bar:
        layout.progress(factor=factor, type="BAR", text=text)
    else:
        layout.label(text=f"{text} ({factor:.0%})")


def remove_fcurves(action, id_data, drop, *, version=None) -> int:
    """Remove the F-curves of ``action`` for ``id_data`` for which ``drop(fcurve)`` is true; returns how many.

    4.4+: from the channelbags of ``id_data``'s slot; before: from ``action.fcurves``.
    """
    if not uses_slotted_actions(version):
        bags = [action]
    else:
        slot = _existing_slot(action, id_data)
        bags = [] if slot is None else [s.channelbag(slot) for layer in action.layers for s in layer.strips]
    removed = 0
    for bag in filter(None, bags):
        for fcurve in [f for f in bag.fcurves if drop(f)]:
            bag.fcurves.remove(fcurve)
            removed += 1
    return removed


def push_down_action(id_data, *, version=None):
    """Blender's "Push Down": the active action moves onto a new NLA track at the top of the stack
    (where it was evaluated anyway), with its blend type and extrapolation. Returns the track, or None."""
    anim = id_data.animation_data
    blend = (anim.action_blend_type, anim.action_extrapolation) if anim is not None else None
    moved = _action_to_new_track(id_data, None, version)
    if moved is None:
        return None
    track, strip = moved
    strip.blend_type, strip.extrapolation = blend
    return track
