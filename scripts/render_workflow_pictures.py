"""Renders docs/images/layered.png: the demo character before and after a layered Generate (Cycles, CPU, headless).

The "before" is the animator's own animation (a weight shift in the legs, arms at rest); the
"after" is the same frames once Generate has put upper-body gestures on an NLA layer above it
(body parts: Upper body, output: NLA layer, Combine): the legs do what they did, the arms talk.

    .venv/bin/python scripts/render_workflow_pictures.py [--samples 8] [--out docs/images/layered.png]
"""

from __future__ import annotations

import argparse
import importlib
import math
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from blender_extension import enable_extension, use_throwaway_user_resources  # noqa: E402

REPO_MODULE = "dimgesture_pictures"
PACKAGE = f"bl_ext.{REPO_MODULE}.dimgesture"
FRAMES = (40, 75, 110)


def key_weight_shift(rig) -> None:
    """The user's animation: bend one knee, then the other, at frames 1, 60 and 120."""
    poses = {1: (0.0, 0.0), 60: (-0.6, 0.0), 120: (0.0, -0.6)}
    for frame, (left, right) in poses.items():
        for side, angle in (("Left", left), ("Right", right)):
            for bone, value in ((f"{side}UpLeg", angle), (f"{side}Leg", -2 * angle)):
                pb = rig.pose.bones[bone]
                pb.rotation_mode = "XYZ"
                pb.rotation_euler = (value, 0.0, 0.0)
                pb.keyframe_insert("rotation_euler", frame=frame)


def setup_render(scene, samples: int) -> None:
    import bpy

    scene.render.engine = "CYCLES"
    scene.cycles.device, scene.cycles.samples = "CPU", samples
    scene.cycles.use_denoising = False
    scene.render.resolution_x, scene.render.resolution_y, scene.render.resolution_percentage = 240, 320, 100
    camera = bpy.data.objects.new("Camera", bpy.data.cameras.new("Camera"))
    camera.data.type, camera.data.ortho_scale = "ORTHO", 2.3
    yaw = math.radians(40)  # three-quarter view: knee bends and arm swings both show
    camera.location, camera.rotation_euler = (6.0 * math.sin(yaw), -6.0 * math.cos(yaw), 0.95), (math.pi / 2, 0.0, yaw)
    sun = bpy.data.objects.new("Sun", bpy.data.lights.new("Sun", "SUN"))
    sun.rotation_euler, sun.data.energy = (0.8, 0.3, -0.5), 4.0
    for obj in (camera, sun):
        scene.collection.objects.link(obj)
    scene.camera = camera
    world = scene.world or bpy.data.worlds.new("World")
    scene.world = world
    world.color = (0.6, 0.62, 0.66)


def render_frames(scene, folder: Path, label: str) -> list[Path]:
    import bpy

    paths = []
    for frame in FRAMES:
        scene.frame_set(frame)
        scene.render.filepath = str(folder / f"{label}-{frame}.png")
        bpy.ops.render.render(write_still=True)
        paths.append(Path(scene.render.filepath))
    return paths


def compose(before: list[Path], after: list[Path], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, len(FRAMES), figsize=(2.4 * len(FRAMES), 6.6), dpi=100)
    for row, (paths, title) in enumerate(((before, "before: the animator's legs"),
                                          (after, "after: + gestures on an NLA layer (upper body)"))):
        for col, (path, frame) in enumerate(zip(paths, FRAMES)):
            ax = axes[row, col]
            ax.imshow(plt.imread(path))
            ax.set_xticks([]), ax.set_yticks([])
            ax.set_xlabel(f"frame {frame}", fontsize=9)
        axes[row, 0].set_ylabel(title, fontsize=9)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, default=ROOT / "checkpoints" / "demo")
    parser.add_argument("--audio", type=Path, default=ROOT / "assets" / "demo_speech.wav")
    parser.add_argument("--samples", type=int, default=8)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images" / "layered.png")
    args = parser.parse_args(argv)
    use_throwaway_user_resources("dimgesture-pictures-blender-")
    import bpy

    enable_extension(bpy, ROOT, REPO_MODULE)
    bpy.ops.wm.read_homefile(use_empty=True, use_factory_startup=True)
    prefs = bpy.context.preferences.addons[PACKAGE].preferences
    prefs.checkpoint_dir, prefs.device = str(args.checkpoint.resolve()), "CPU"
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = 30, 1.0
    rig = importlib.import_module(f"{PACKAGE}.dimgesture_addon.rig_builder").build_demo_rig(bpy.context, "Speaker")
    key_weight_shift(rig)
    scene.sequence_editor_create()
    compat = importlib.import_module(f"{PACKAGE}.dimgesture_addon.compat")
    strip = compat.sequencer_strips(scene).new_sound("Speech", str(args.audio.resolve()), channel=1, frame_start=1)
    setup_render(scene, args.samples)
    with tempfile.TemporaryDirectory(prefix="dimgesture-pictures-") as tmp:
        before = render_frames(scene, Path(tmp), "before")
        settings = scene.dimgesture
        settings.strip_name, settings.body_parts, settings.output, settings.blend_type = strip.name, "UPPER", "NLA", "COMBINE"
        settings.smoothing = 0.05
        bpy.context.view_layer.objects.active = rig
        bpy.ops.dimgesture.generate()
        after = render_frames(scene, Path(tmp), "after")
        compose(before, after, args.out)
    status = bpy.context.window_manager.dimgesture_state.status
    bpy.ops.preferences.addon_disable(module=PACKAGE)
    print(f"wrote {args.out}: {status}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
