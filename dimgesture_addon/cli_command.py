"""``blender -c dimgesture generate --blend IN --audio A --armature NAME -o OUT.blend``.

A batch entry for render farms and scripts: open a file, run the same Generate operator the
panel runs (headless, so synchronously), save the result under a new name. Returns a process
exit code, as ``bpy.utils.register_cli_command`` expects.
"""

from __future__ import annotations

import argparse
import os
import sys

import bpy

from ..backend.fileio import output_problems
from . import preflight, workflow_settings
from .preferences import get_prefs

_handle = None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="blender -c dimgesture", description="DiM-Gesture in batch mode.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    gen = sub.add_parser("generate", help="key speech-driven gestures on an armature of a .blend file")
    gen.add_argument("--blend", required=True, help="the .blend file to open")
    gen.add_argument("--audio", required=True, help="speech clip (WAV, FLAC, OGG)")
    gen.add_argument("--armature", required=True, help="name of the armature object to animate")
    gen.add_argument("-o", "--output", required=True, help="where to save the resulting .blend")
    gen.add_argument("--overwrite", action="store_true", help="replace the output .blend if it exists (default: refuse)")
    gen.add_argument("--start-frame", type=int, default=None, help="frame of the first key (default: the scene's start)")
    gen.add_argument("--seed", type=int, default=0)
    gen.add_argument("--steps", type=int, default=0, help="denoising steps (0: the preferences' default)")
    gen.add_argument("--style", default="", help="optional style reference clip")
    gen.add_argument("--style-strength", type=float, default=0.0,
                     help="how strongly the gestures follow --style (0: the checkpoint's default, 1: as trained)")
    gen.add_argument("--root-motion", action="store_true", help="keep the generated root motion")
    workflow_settings.add_arguments(gen)
    return parser


def _fail(message: str) -> int:
    print(f"dimgesture: error: {message}", file=sys.stderr)
    return 1


def run(argv: list[str]) -> int:
    """The command itself (also what tests call)."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit_:  # argparse already printed the problem
        return int(exit_.code or 0)
    if not os.path.isfile(args.blend):
        return _fail(f"no such .blend file: {args.blend}")
    if not os.path.isfile(args.audio):
        return _fail(f"no such speech clip: {args.audio}")
    problems = output_problems([os.path.abspath(args.output)], args.overwrite)  # before any work
    if problems:
        return _fail(" ".join(problems))
    bpy.ops.wm.open_mainfile(filepath=os.path.abspath(args.blend), load_ui=False)
    armature = bpy.data.objects.get(args.armature)
    if armature is None or armature.type != "ARMATURE":
        names = ", ".join(o.name for o in bpy.data.objects if o.type == "ARMATURE") or "none"
        return _fail(f"no armature named '{args.armature}' in {args.blend} (armatures: {names})")
    scene = bpy.context.scene
    view_layer = bpy.context.view_layer
    if view_layer.objects.get(armature.name) is None:
        return _fail(f"the armature '{args.armature}' is not in the scene '{scene.name}'")
    view_layer.objects.active = armature
    settings = scene.dimgesture
    settings.audio_source = "FILE"
    settings.audio_file = os.path.abspath(args.audio)
    settings.start_frame = scene.frame_start if args.start_frame is None else args.start_frame
    settings.seed, settings.steps, settings.root_motion = args.seed, args.steps, args.root_motion
    settings.style_file = os.path.abspath(args.style) if args.style else ""
    settings.style_strength = args.style_strength
    problems = preflight.generate_problems(bpy.context, get_prefs().max_clip_minutes)
    if problems:
        return _fail(" ".join(problems))
    try:
        workflow_settings.apply_arguments(settings, args)
    except ValueError as err:
        return _fail(str(err))
    try:
        result = bpy.ops.dimgesture.generate()
    except RuntimeError as err:  # the operator reported an error; its text says what went wrong
        return _fail(str(err).strip())
    if result != {"FINISHED"}:
        return _fail("generation was cancelled")
    bpy.ops.wm.save_as_mainfile(filepath=os.path.abspath(args.output))
    print(f"dimgesture: saved {args.output} ({scene.dimgesture.audio_file} → '{armature.name}')")
    return 0


def register() -> None:
    global _handle
    if hasattr(bpy.utils, "register_cli_command"):  # Blender 4.2+
        _handle = bpy.utils.register_cli_command("dimgesture", run)


def unregister() -> None:
    global _handle
    if _handle is not None:
        bpy.utils.unregister_cli_command(_handle)
        _handle = None
