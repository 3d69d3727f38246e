"""Scripting DiM-Gesture from Blender's Python: key gestures on an armature of an open .blend and save it.

    blender -b scene.blend --python scripts/blender_batch_example.py -- --audio speech.wav --armature Rig -o out.blend

The DiM-Gesture extension must be installed and enabled in that Blender, with a backend set up
(its preferences). In background mode the Generate operator waits for the backend, so the
keys exist when it returns. ``blender -c dimgesture generate ...`` does the same in one command.
"""

import argparse
import sys

import bpy


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="blender_batch_example.py")
    parser.add_argument("--audio", required=True, help="speech clip")
    parser.add_argument("--armature", required=True, help="armature object to animate")
    parser.add_argument("--start-frame", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("-o", "--output", required=True, help="where to save the .blend")
    args = parser.parse_args(argv)

    bpy.context.view_layer.objects.active = bpy.data.objects[args.armature]
    settings = bpy.context.scene.dimgesture  # the panel's settings
    settings.audio_source = "FILE"
    settings.audio_file = args.audio
    settings.start_frame = args.start_frame
    settings.seed = args.seed
    bpy.ops.dimgesture.generate()  # raises RuntimeError with the reason if generation fails
    bpy.ops.wm.save_as_mainfile(filepath=args.output)


if __name__ == "__main__":
    main(sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else [])
