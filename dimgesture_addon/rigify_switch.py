"""Rigify limbs start in IK (custom property ``IK_FK`` = 0.0 on ``upper_arm_parent.L`` …), so keys
on their FK controls would not show: key the switch too, in the same action, so it is undone with
the gestures and visible in the timeline.

Arms go to FK (1.0) whenever their FK controls are keyed. Legs stay in IK (0.0, feet planted)
unless root motion is on, when the keyed FK legs carry the character's steps (1.0).
"""

from __future__ import annotations

import re

import bpy

SWITCH = "IK_FK"
_PARENT = re.compile(r"^(?P<stem>.+)_parent(?P<suffix>\..+)?$")
LEG_JOINTS = ("LeftUpLeg", "RightUpLeg")


def key_fk_switches(obj: bpy.types.Object, new_fcurve, frame: float, bone_map: dict[str, str],
                    keyed: set[str], root_motion: bool) -> dict[str, float]:
    """Key every Rigify IK/FK switch whose FK chain is keyed; returns bone name → keyed value.

    ``new_fcurve(path, index, group)`` adds an F-curve to the gesture action (see
    ``compat.fcurve_factory``); ``bone_map`` tells legs (thighs) from arms.
    """
    legs = {bone_map.get(j) for j in LEG_JOINTS}
    keyed_values = {}
    for pb, fk in _switches(obj, keyed):
        value = (1.0 if root_motion else 0.0) if fk in legs else 1.0
        fcurve = new_fcurve(pb.path_from_id(f'["{SWITCH}"]'), 0, pb.name)
        fcurve.keyframe_points.insert(frame, value, options={"FAST"})
        fcurve.keyframe_points[0].interpolation = "CONSTANT"
        pb[SWITCH] = value
        keyed_values[pb.name] = value
    return keyed_values


def switch_paths(obj: bpy.types.Object, keyed: set[str]) -> set[str]:
    """The data paths of the switches :func:`key_fk_switches` keys when the bones ``keyed`` are keyed."""
    return {pb.path_from_id(f'["{SWITCH}"]') for pb, _ in _switches(obj, keyed)}


def _switches(obj: bpy.types.Object, keyed: set[str]):
    """(switch-holding pose bone, its FK control) for every Rigify limb whose FK control is in ``keyed``."""
    for pb in obj.pose.bones:
        m = _PARENT.match(pb.name)
        if SWITCH not in pb.keys() or m is None:
            continue
        fk = f"{m['stem']}_fk{m['suffix'] or ''}"
        if fk in keyed:
            yield pb, fk
