"""Scripting DiM-Gesture from Blender's Python: key gestures on an armature of an open .blend and save it.

    blender -b scene.blend --python scripts/blender_batch_example.py -- --audio speech.wav --armature Rig -o out.blend
    blender -b scene.blend --python scripts/blender_batch_example.py -- --audio speech.wav --armature Rig \
        --body-parts UPPER --no-fingers --nla --blend-type COMBINE --influence 0.8 --intensity 1.3 \
        --takes 3 --reduce-keys 0.5 -o out.blend
    blender -b dialogue.blend --python scripts/blender_batch_example.py -- --whole-scene -o out.blend

The DiM-Gesture extension must be installed and enabled in that Blender, with a backend set up
(its preferences). In background mode the Generate operator waits for the backend, so the
keys exist when it returns. ``blender -c dimgesture generate ...`` does the same in one command.
Every flag sets one ``scene.dimgesture`` property (docs/workflow.md lists them all).
"""

import argparse
import importlib
import sys

import bpy


def dimgesture_module(name: str):
    """A module of the enabled DiM-Gesture extension (its package is ``bl_ext.<repository>.dimgesture``)."""
    package = next((p for p in bpy.context.preferences.addons.keys() if p.split(".")[-1] == "dimgesture"), None)
    if package is None:
        sys.exit("blender_batch_example.py: the DiM-Gesture extension is not enabled in this Blender")
    return importlib.import_module(f"{package}.dimgesture_addon.{name}")


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="blender_batch_example.py")
    parser.add_argument("--audio", help="speech clip (not with --whole-scene)")
    parser.add_argument("--armature", help="armature object to animate (not with --whole-scene)")
    parser.add_argument("--whole-scene", action="store_true",
                        help="key every strip → armature pair stored in the scene (scene.dimgesture_pairs)")
    parser.add_argument("--start-frame", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    workflow = dimgesture_module("workflow_settings")
    workflow.add_arguments(parser)  # --body-parts, --no-fingers, --nla, --blend-type, --influence, --intensity, --takes, ...
    parser.add_argument("-o", "--output", required=True, help="where to save the .blend")
    args = parser.parse_args(argv)
    if not args.whole_scene and not (args.audio and args.armature):
        parser.error("give --audio and --armature, or --whole-scene")

    settings = bpy.context.scene.dimgesture  # the panel's settings
    settings.seed = args.seed
    workflow.apply_arguments(settings, args)
    if not args.whole_scene:
        bpy.context.view_layer.objects.active = bpy.data.objects[args.armature]
        settings.audio_source = "FILE"
        settings.audio_file = args.audio
        settings.start_frame = args.start_frame
    bpy.ops.dimgesture.generate(whole_scene=args.whole_scene)  # raises RuntimeError with the reason if generation fails
    print(bpy.context.window_manager.dimgesture_state.status)
    bpy.ops.wm.save_as_mainfile(filepath=args.output)


if __name__ == "__main__":
    main(sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else [])
