"""Keying a motion on a rig the way Generate does: ``layering.prepare`` then ``layering.place_takes``.

Shared by the Blender tests and the scripts that pose rigs (scripts/render_rig_gallery.py,
scripts/bench_keyframes.py), so that they check and time the operator's own path (full body, every
frame keyed, a new action; the user's action stashed) rather than a shortcut of their own.
"""

from __future__ import annotations

import importlib


def key_motion(package: str, context, armature, motion, start_frame: int, bone_map: dict[str, str], *,
               root_motion: bool = True, smoothing: float = 0.0, name: str = "DiM-Gesture"):
    """Key ``motion`` on ``armature`` from ``start_frame`` as one Generate take named ``name``; returns its action.

    ``package`` is the enabled add-on's ``dimgesture_addon`` package (``bl_ext.<repo>.dimgesture.dimgesture_addon``).
    """
    layering = importlib.import_module(f"{package}.layering")
    request = importlib.import_module(f"{package}.request")
    target = request.Target(armature.name, "", start_frame, name, bone_map=dict(bone_map))
    settings = request.GenerateRequest(root_motion=root_motion, smoothing=smoothing, targets=(target,))
    take = layering.prepare(context, settings, armature, motion, settings.seed, name, target.bone_map)
    return layering.place_takes(context, settings, target, armature, [take])[0].action
