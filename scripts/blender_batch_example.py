"""Scripting DiM-Gesture from Blender's Python: key gestures on an armature of an open .blend and save it.

    blender -b scene.blend --python scripts/blender_batch_example.py -- --audio speech.wav --armature Rig -o out.blend
    blender -b scene.blend --python scripts/blender_batch_example.py -- --audio speech.wav --armature Rig \
        --body-parts UPPER --no-fingers --nla --blend COMBINE --influence 0.8 --intensity 1.3 \
        --takes 3 --reduce-keys 0.5 -o out.blend
    blender -b dialogue.blend --python scripts/blender_batch_example.py -- --whole-scene -o out.blend

The DiM-Gesture extension must be installed and enabled in that Blender, with a backend set up
(its preferences). In background mode the Generate operator waits for the backend, so the
keys exist when it returns. ``blender -c dimgesture generate ...`` does the same in one command.
Every flag sets one ``scene.dimgesture`` property (docs/workflow.md lists them all).
"""

import argparse
import sys

import bpy


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="blender_batch_example.py")
    parser.add_argument("--audio", help="speech clip (not with --whole-scene)")
    parser.add_argument("--armature", help="armature object to animate (not with --whole-scene)")
    parser.add_argument("--whole-scene", action="store_true",
                        help="key every strip → armature pair stored in the scene (scene.dimgesture_pairs)")
    parser.add_argument("--start-frame", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--body-parts", choices=("FULL", "UPPER", "ARMS", "HEAD"), default="FULL")
    parser.add_argument("--no-fingers", action="store_true", help="leave the fingers as they are")
    parser.add_argument("--nla", action="store_true", help="put the gestures on a new NLA layer (default: a new action)")
    parser.add_argument("--blend", choices=("COMBINE", "REPLACE"), default="COMBINE", help="NLA blend type")
    parser.add_argument("--influence", type=float, default=1.0, help="NLA strip influence, 0-1")
    parser.add_argument("--blend-in", type=float, default=0.2, help="NLA fade-in, seconds")
    parser.add_argument("--blend-out", type=float, default=0.2, help="NLA fade-out, seconds")
    parser.add_argument("--intensity", type=float, default=1.0, help="0 still … 1 as generated … 2 twice the swing")
    parser.add_argument("--takes", type=int, default=1, help="variations (seeds seed, seed+1, …) in one run")
    parser.add_argument("--reduce-keys", type=float, default=None, metavar="DEGREES",
                        help="keep only the keys needed to stay within this rotation error")
    parser.add_argument("-o", "--output", required=True, help="where to save the .blend")
    args = parser.parse_args(argv)
    if not args.whole_scene and not (args.audio and args.armature):
        parser.error("give --audio and --armature, or --whole-scene")

    settings = bpy.context.scene.dimgesture  # the panel's settings
    settings.seed = args.seed
    settings.body_parts, settings.use_fingers = args.body_parts, not args.no_fingers
    settings.output, settings.blend_type, settings.influence = "NLA" if args.nla else "ACTION", args.blend, args.influence
    settings.blend_in, settings.blend_out = args.blend_in, args.blend_out
    settings.intensity, settings.takes = args.intensity, args.takes
    settings.reduce_keys = args.reduce_keys is not None
    if args.reduce_keys is not None:
        settings.key_tolerance = args.reduce_keys
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
