"""Keyframe-writing benchmark in real Blender (the bpy wheel), run by ``dimgesture bench``.

Why a script outside ``backend/``: the backend never imports bpy. This enables the extension the
way Blender does (as ``make demo``), builds the demo rig (75 bones), and times keying one take the
way Generate does (``layering.prepare`` + ``layering.place_takes``, via ``tests/keying.py``) on a smooth random motion of ``--frames`` frames at the scene's
20 fps (so nothing is resampled), plus the numpy retargeting inside it on its own.
Prints one JSON line: joints, frames, keys, retarget_s, apply_s (medians of ``--repeats``).
"""

from __future__ import annotations

import argparse
import importlib
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "tests"))


def smooth_motion(frames: int, fps: float = 20.0, seed: int = 0):
    import numpy as np

    from backend.motion import quaternions as quat
    from backend.motion.motion import Motion
    from backend.motion.skeleton import default_skeleton

    skel = default_skeleton()
    rng = np.random.default_rng(seed)
    t = np.arange(frames)[:, None, None] / fps
    amp = rng.normal(scale=0.3, size=(1, skel.num_joints, 3))
    rot = quat.multiply(skel.rest_rotations, quat.from_axis_angle(amp * np.sin(2.0 * t + rng.uniform(0, 6, (1, skel.num_joints, 3)))))
    root = skel.offsets[0] + np.stack([10 * np.sin(0.3 * t[:, 0, 0]), 2 * np.sin(2 * t[:, 0, 0]), np.zeros(frames)], -1)
    return Motion(fps, skel, rot, root)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=6000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    from blender_extension import enable_extension, use_throwaway_user_resources
    from keying import key_motion

    use_throwaway_user_resources("dimgesture-bench-blender-")
    import bpy

    from demo import PACKAGE, REPO_MODULE

    from backend.motion.retarget import retarget

    enable_extension(bpy, ROOT, REPO_MODULE)
    keyframes = importlib.import_module(f"{PACKAGE}.dimgesture_addon.keyframes")
    rig_builder = importlib.import_module(f"{PACKAGE}.dimgesture_addon.rig_builder")
    bone_map = importlib.import_module(f"{PACKAGE}.dimgesture_addon.bone_map")
    compat = importlib.import_module(f"{PACKAGE}.dimgesture_addon.compat")
    bpy.ops.wm.read_homefile(use_empty=True, use_factory_startup=True)
    context = bpy.context
    context.scene.render.fps, context.scene.render.fps_base = 20, 1.0
    rig = rig_builder.build_demo_rig(context, "BenchRig")
    motion = smooth_motion(args.frames)
    mapping = bone_map.bone_map_for(rig, motion.skeleton)
    retarget_s, apply_s = [], []
    keys = 0
    for _ in range(args.repeats):
        start = time.perf_counter()
        retarget(motion, keyframes.armature_rig(rig), mapping)
        retarget_s.append(time.perf_counter() - start)
        start = time.perf_counter()
        action = key_motion(f"{PACKAGE}.dimgesture_addon", context, rig, motion, 1, mapping)
        apply_s.append(time.perf_counter() - start)
        keys = sum(len(fc.keyframe_points) for fc in compat.action_fcurves(action, rig))
    print(json.dumps({"joints": motion.skeleton.num_joints, "bones_keyed": len(mapping), "frames": args.frames, "keys": keys,
                      "retarget_s": statistics.median(retarget_s), "apply_s": statistics.median(apply_s),
                      "apply_times_s": apply_s, "blender": bpy.app.version_string}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
