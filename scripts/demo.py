"""``make demo``: the bundled speech clip → gestures keyed on the bundled demo rig → out/demo.blend + out/demo.bvh.

Runs real Blender as a Python module (the bpy wheel) and goes the animator's way: the extension is
enabled as Blender enables an installed one, the clip sits on the timeline as a sound strip, and
the panel's Generate operator runs (headless, so it waits for the backend process it starts).
The BVH holds the generated motion on the model's own skeleton, before retargeting.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the backend's numpy-only motion modules (BVH writer)

from blender_extension import enable_extension, use_throwaway_user_resources  # noqa: E402  (this script's folder is on sys.path)

REPO_MODULE = "dimgesture_demo"
PACKAGE = f"bl_ext.{REPO_MODULE}.dimgesture"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--audio", type=Path, default=ROOT / "assets" / "demo_speech.wav", help="speech clip")
    parser.add_argument("--checkpoint", type=Path, default=ROOT / "checkpoints" / "demo", help="model checkpoint folder")
    parser.add_argument("--out", type=Path, default=ROOT / "out", help="output folder (demo.blend, demo.bvh, demo.npz)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=0, help="denoising steps (0: the checkpoint's default)")
    parser.add_argument("--fps", type=int, default=30, help="scene frame rate")
    parser.add_argument("--device", choices=("AUTO", "CPU", "CUDA"), default="AUTO")
    return parser.parse_args(argv)


def missing_inputs(args: argparse.Namespace) -> list[str]:
    """What the demo needs and does not find, each in a sentence saying how to get it."""
    problems = []
    if not args.audio.is_file():
        problems.append(f"speech clip {args.audio} (the bundled one is assets/demo_speech.wav)")
    absent = [name for name in ("config.json", "model.safetensors", "stats.safetensors") if not (args.checkpoint / name).is_file()]
    if absent:
        problems.append(f"model checkpoint {args.checkpoint} lacks {', '.join(absent)} (the demo checkpoint is committed "
                        "at checkpoints/demo by the training work; or pass --checkpoint DIR)")
    if not (ROOT / ".venv" / "bin" / "python").is_file():
        problems.append(f"backend Python {ROOT / '.venv' / 'bin' / 'python'} (run `make setup`)")
    return problems


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    problems = missing_inputs(args)
    if problems:
        print("demo: cannot run yet; missing:", *(f"  - {p}" for p in problems), sep="\n", file=sys.stderr)
        return 1
    use_throwaway_user_resources("dimgesture-demo-blender-")
    import importlib

    import bpy

    from backend.motion.bvh import write_bvh
    from backend.motion.motion import Motion

    started = time.monotonic()
    enable_extension(bpy, ROOT, REPO_MODULE)
    rig_builder = importlib.import_module(f"{PACKAGE}.dimgesture_addon.rig_builder")
    compat = importlib.import_module(f"{PACKAGE}.dimgesture_addon.compat")
    bpy.ops.wm.read_homefile(use_empty=True, use_factory_startup=True)
    prefs = bpy.context.preferences.addons[PACKAGE].preferences
    prefs.checkpoint_dir, prefs.device = str(args.checkpoint.resolve()), args.device
    context = bpy.context
    scene = context.scene
    scene.render.fps, scene.render.fps_base = args.fps, 1.0
    rig = rig_builder.build_demo_rig(context, "DemoRig")
    scene.sequence_editor_create()
    strips = compat.sequencer_strips(scene)
    strip = strips.new_sound(args.audio.stem, str(args.audio.resolve()), channel=1, frame_start=1)
    scene.frame_start, scene.frame_end = 1, strip.frame_final_end - 1
    settings = scene.dimgesture
    settings.strip_name, settings.seed, settings.steps = strip.name, args.seed, args.steps
    print(f"demo: rig '{rig.name}' ({len(rig.data.bones)} bones), clip {args.audio.name} at frame 1, {args.fps} fps, "
          f"checkpoint {args.checkpoint}")

    args.out.mkdir(parents=True, exist_ok=True)
    npz, bvh, blend = args.out / "demo.npz", args.out / "demo.bvh", args.out / "demo.blend"
    generating = time.monotonic()
    try:
        bpy.ops.dimgesture.generate(motion_output=str(npz.resolve()))
    except RuntimeError as err:
        print(f"demo: generation failed: {str(err).strip()}", file=sys.stderr)
        return 1
    generated = time.monotonic() - generating
    motion = Motion.load_npz(npz)
    write_bvh(bvh, motion)
    strip.sound.pack()  # the .blend carries its sound
    action = rig.animation_data.action
    bpy.ops.wm.save_as_mainfile(filepath=str(blend.resolve()))
    bpy.ops.preferences.addon_disable(module=PACKAGE)  # stops the backend process
    print(f"demo: generated {motion.num_frames} frames at {motion.fps:g} fps ({motion.duration:.1f} s) in {generated:.1f} s; "
          f"keyed as action '{action.name}' on frames {action.frame_range[0]:g}–{action.frame_range[1]:g}")
    print(f"demo: wrote {blend}, {bvh} and {npz} in {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
