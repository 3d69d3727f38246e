"""Real Blender for the reliability tests: the session tests/addon uses too (tests/blender_session.py).

Import this module before ``bpy``.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from blender_session import bpy, enabled_extension  # noqa: F401  (the Blender tests' import point)
from reliability_helpers import wait_for  # noqa: F401  (the Blender tests' import point)


def addon_module(package: str, name: str = ""):
    return importlib.import_module(f"{package}.dimgesture_addon" + (f".{name}" if name else ""))


def snapshot(obj=None) -> dict:
    """Everything Generate may touch: actions with their keys, the rig's animation data and NLA, object names."""
    compat = addon_module(enabled_extension(), "compat")
    actions = {}
    for action in bpy.data.actions:
        curves = compat.action_fcurves(action, None)  # every slot's
        actions[action.name] = sorted((fc.data_path, fc.array_index, tuple(round(v, 6) for k in fc.keyframe_points for v in k.co))
                                      for fc in curves)
    state = {"actions": actions, "objects": sorted(o.name for o in bpy.data.objects)}
    if obj is not None:
        scene = bpy.context.scene
        scene.frame_set(scene.frame_current)  # the pose as the animation drives it
        anim = obj.animation_data
        state["action"] = anim.action.name if anim and anim.action else None
        state["nla"] = [(t.name, [(s.name, s.action.name if s.action else None) for s in t.strips])
                        for t in anim.nla_tracks] if anim else []
        state["pose"] = [tuple(round(v, 6) for v in (*b.rotation_quaternion, *b.location)) for b in obj.pose.bones]
    return state


def denoising_job(operators, step: int = 1):
    """The running Generate job once it has reported denoising step ``step`` (None before that)."""
    job = operators.active_job()
    return job if job is not None and job.step >= step else None


def linked_from_library(obj, library: Path):
    """``obj`` written to the .blend ``library``, then linked from it into a new empty scene (as a studio's
    character file is): returns the linked object, not yet active."""
    name = obj.name
    bpy.data.libraries.write(str(library), {obj, obj.data})
    bpy.ops.wm.read_homefile(use_empty=True, use_factory_startup=True)  # obj is gone from here on
    with bpy.data.libraries.load(str(library), link=True) as (_, target):
        target.objects = [name]
    linked = target.objects[0]
    bpy.context.scene.collection.objects.link(linked)
    return linked

