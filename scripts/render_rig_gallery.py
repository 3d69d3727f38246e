"""Pictures for docs/rigs.md: every test rig, posed by the add-on at one frame, as a stick figure.

Run with the venv's Python (the bpy wheel): ``.venv/bin/python scripts/render_rig_gallery.py [out_dir]``
(default ``docs/rigs``). Each rig of ``tests/humanoid_rigs.py``, Blender's human metarig and the rig
Rigify generates from it (its deform bones) is mapped automatically, keyed the way Generate keys
(``tests/keying.py``) with a synthetic motion of large arm swings, and drawn from the front at one frame: left side red, right side blue, bones
the map leaves out grey. The generated Rigify rig takes a while (Rigify's generate step).
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO_ROOT), str(REPO_ROOT / "scripts"), str(REPO_ROOT / "tests")]

from blender_extension import enable_extension, use_throwaway_user_resources  # noqa: E402

use_throwaway_user_resources()

import bpy  # noqa: E402
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import humanoid_rigs  # noqa: E402
from keying import key_motion  # noqa: E402
from backend.motion.skeleton import default_skeleton  # noqa: E402

FRAME = 9


def side_of(joint: str | None) -> str:
    return "left" if joint and joint.startswith("Left") else "right" if joint and joint.startswith("Right") else "centre"


def draw(obj, mapping: dict[str, str], path: Path, title: str, turn: np.ndarray, only=None) -> None:
    """A front view of the posed bones (world space, the rig's own turn undone)."""
    bpy.context.scene.frame_set(FRAME)
    joint_of = {b: j for j, b in mapping.items()}
    colours = {"left": "#d62728", "right": "#1f77b4", "centre": "#222222"}
    fig, ax = plt.subplots(figsize=(2.2, 3.0), dpi=72)
    m = obj.matrix_world
    for pb in obj.pose.bones:
        if only and not only(pb.name):
            continue
        a, b = (np.array(m @ p) @ turn for p in (pb.head, pb.tail))
        driver = joint_of.get(pb.name) or joint_of.get(pb.name.replace("DEF-", "").replace(".001", ""))
        colour, width = (colours[side_of(driver)], 1.6) if driver or only else ("#bbbbbb", 0.8)
        if only:  # deform bones: colour by the bone's own side
            colour = colours["left" if pb.name.endswith(".L") or ".L." in pb.name else
                             "right" if pb.name.endswith(".R") or ".R." in pb.name else "centre"]
        ax.plot([a[0], b[0]], [a[2], b[2]], color=colour, lw=width, solid_capstyle="round")
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title, fontsize=8)
    fig.tight_layout(pad=0.2)
    fig.savefig(path)
    plt.close(fig)


def main(out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    package = enable_extension(bpy, REPO_ROOT, "dimgesture_gallery")
    bone_map = importlib.import_module(f"{package}.dimgesture_addon.bone_map")
    skeleton = default_skeleton()
    motion = humanoid_rigs.swinging_motion()

    def pose(obj, **options):
        used = bone_map.fill(obj, skeleton)
        mapping = bone_map.bone_map_for(obj, skeleton)
        key_motion(f"{package}.dimgesture_addon", bpy.context, obj, motion, 1, mapping, **options)
        return used, mapping

    def fresh_scene():
        bpy.ops.wm.read_homefile(use_empty=True, use_factory_startup=True)
        bpy.context.scene.render.fps, bpy.context.scene.render.fps_base = humanoid_rigs.FPS, 1.0

    for rig in humanoid_rigs.conventions():
        fresh_scene()
        obj = humanoid_rigs.build_armature(bpy, rig)
        used, mapping = pose(obj)
        turn = rig.object_matrix()[:3, :3] / rig.object_scale if rig.turn_world else np.eye(3)
        draw(obj, mapping, out_dir / f"{rig.name}.png", f"{rig.name} ({len(mapping)} mapped)", turn)
        print(f"{rig.name}: {used}, {len(mapping)} joints mapped")

    fresh_scene()
    bpy.ops.preferences.addon_enable(module="rigify")
    bpy.ops.object.armature_human_metarig_add()
    meta = bpy.context.active_object
    used, mapping = pose(meta)
    draw(meta, mapping, out_dir / "metarig.png", f"Blender metarig ({len(mapping)} mapped)", np.eye(3))
    print(f"metarig: {used}, {len(mapping)} joints mapped")
    meta.animation_data.action = None
    bpy.ops.pose.rigify_generate()
    rig = next(o for o in bpy.data.objects if o.type == "ARMATURE" and o is not meta)
    bpy.context.view_layer.objects.active = rig
    used, mapping = pose(rig, root_motion=False)
    draw(rig, mapping, out_dir / "rigify.png", "Rigify (DEF- bones)", np.eye(3), only=lambda n: n.startswith("DEF-"))
    print(f"rigify: {used}, {len(mapping)} joints mapped")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else REPO_ROOT / "docs" / "rigs")
