"""Real Blender for the reliability tests, set up exactly as tests/addon/conftest.py does it.

Import this module before ``bpy``: when tests/addon has not already started Blender in this
session, its conftest is loaded here (it sets a throwaway user-resources folder first).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
ADDON_CONFTEST = REPO_ROOT / "tests" / "addon" / "conftest.py"


def _addon_conftest():
    for module in list(sys.modules.values()):
        if Path(getattr(module, "__file__", None) or "/").resolve() == ADDON_CONFTEST:
            return module
    spec = importlib.util.spec_from_file_location("dimgesture_addon_conftest", ADDON_CONFTEST)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


_conftest = _addon_conftest() if "bpy" not in sys.modules else None

import bpy  # noqa: E402


def enabled_extension() -> str:
    """The package of the enabled extension (enabling it the real way if nobody has yet)."""
    for name in bpy.context.preferences.addons.keys():
        if name.startswith("bl_ext.") and name.endswith(".dimgesture"):
            return name
    return (_conftest or _addon_conftest())._enable_extension()


def addon_module(package: str, name: str = ""):
    return importlib.import_module(f"{package}.dimgesture_addon" + (f".{name}" if name else ""))


def snapshot(obj=None) -> dict:
    """Everything Generate may touch: actions with their keys, the rig's animation data and NLA, object names."""
    actions = {}
    for action in bpy.data.actions:
        curves = []
        for layer in getattr(action, "layers", []):
            for strip in layer.strips:
                for bag in strip.channelbags:
                    curves += list(bag.fcurves)
        if not getattr(action, "layers", None) or not curves:
            curves += list(getattr(action, "fcurves", []))
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


def wait_for(condition, seconds: float = 300.0, step: float = 0.005) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return False
