"""The animator's workflow settings of ``scene.dimgesture``: which body parts, where the keys go, how strong, how many takes.

A mixin of the scene settings (``settings.DimGestureSceneSettings``), kept apart so the options
of layering, intensity, takes and key reduction read as one group; every one is scriptable as
``bpy.context.scene.dimgesture.<name>`` (docs/workflow.md lists them for batch scripts).
"""

from __future__ import annotations

import argparse

from bpy.props import BoolProperty, EnumProperty, FloatProperty, IntProperty

from ..backend import protocol
from ..backend.motion.intensity import MAX_INTENSITY

BODY_PART_ITEMS = [
    ("FULL", "Full body", "Gestures drive every mapped bone, hips and legs included"),
    ("UPPER", "Upper body", "Spine and up: spine, arms and head; hips and legs keep their own animation"),
    ("ARMS", "Arms", "Shoulders, arms and hands only"),
    ("HEAD", "Head", "Neck and head only"),
]
OUTPUT_ITEMS = [
    ("ACTION", "Action", "A new active action (the previous one is stashed; bones the gestures do not drive keep their keys)"),
    ("NLA", "NLA layer", "A new NLA strip on its own track above the existing animation, which stays as it is"),
]
BLEND_ITEMS = [
    ("COMBINE", "Combine", "Add the gestures on top of the animation below (rotations composed, locations added)"),
    ("REPLACE", "Replace", "The gestures replace the animation below on the bones they drive"),
]


class WorkflowSettings:
    body_parts: EnumProperty(name="Body parts", items=BODY_PART_ITEMS, default="FULL",
                             description="Which part of the body the gestures drive")
    use_fingers: BoolProperty(name="Fingers", default=True, description="Let the gestures drive the fingers too")
    output: EnumProperty(name="Output", items=OUTPUT_ITEMS, default="ACTION", description="Where the generated keys go")
    blend_type: EnumProperty(name="Blend", items=BLEND_ITEMS, default="COMBINE",
                             description="How the NLA strip mixes with the animation below it")
    influence: FloatProperty(name="Influence", default=1.0, min=0.0, max=1.0, subtype="FACTOR",
                             description="How much the NLA strip contributes")
    blend_in: FloatProperty(name="Blend in", default=0.2, min=0.0, max=10.0, unit="TIME_ABSOLUTE",
                            description="Seconds over which the NLA strip fades in at its start")
    blend_out: FloatProperty(name="Blend out", default=0.2, min=0.0, max=10.0, unit="TIME_ABSOLUTE",
                             description="Seconds over which the NLA strip fades out at its end")
    intensity: FloatProperty(name="Intensity", default=1.0, min=0.0, max=MAX_INTENSITY, step=5, precision=2,
                             description="Scale the gestures about the idle pose: 0 still, 0.5 calmer, 1 as generated, "
                                         "1.5 more animated")
    takes: IntProperty(name="Takes", default=1, min=1, max=protocol.MAX_TAKES,
                       description="Variations to generate in one run (seeds Seed, Seed+1, …), each its own action")
    reduce_keys: BoolProperty(name="Reduce keys", default=False,
                              description="Keep only extrema and the keys needed to stay within the tolerance, "
                                          "so the curves can be edited by hand")
    key_tolerance: FloatProperty(name="Tolerance", default=0.5, min=0.01, max=10.0, precision=2,
                                 description="Largest rotation error (degrees) the reduced keys may leave at any frame")


def draw(layout, settings) -> None:
    """The panel's Layering, Takes and Editing rows (see docs/workflow.md for the layout)."""
    col = layout.column(heading="Layering")
    col.prop(settings, "body_parts")
    if settings.body_parts != "HEAD":
        col.prop(settings, "use_fingers")
    col.prop(settings, "output", expand=True)
    if settings.output == "NLA":
        col.prop(settings, "blend_type")
        col.prop(settings, "influence", slider=True)
        col.prop(settings, "blend_in")
        col.prop(settings, "blend_out")
    col.prop(settings, "intensity", slider=True)
    col = layout.column(heading="Takes")
    col.prop(settings, "takes")
    col = layout.column(heading="Editing")
    col.prop(settings, "reduce_keys")
    if settings.reduce_keys:
        col.prop(settings, "key_tolerance")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Command-line flags for these settings (``blender -c dimgesture generate``)."""
    parser.add_argument("--body-parts", choices=[i[0] for i in BODY_PART_ITEMS], default="FULL")
    parser.add_argument("--no-fingers", action="store_true", help="leave the fingers as they are")
    parser.add_argument("--nla", action="store_true", help="put the gestures on a new NLA layer (default: a new action)")
    parser.add_argument("--blend-type", choices=[i[0] for i in BLEND_ITEMS], default="COMBINE", help="NLA blend type")
    parser.add_argument("--influence", type=float, default=1.0, help="NLA strip influence, 0-1")
    parser.add_argument("--blend-in", type=float, default=0.2, help="NLA fade-in, seconds")
    parser.add_argument("--blend-out", type=float, default=0.2, help="NLA fade-out, seconds")
    parser.add_argument("--intensity", type=float, default=1.0, help="0 still, 1 as generated, 2 twice the swing")
    parser.add_argument("--takes", type=int, default=1, help="variations (seeds seed, seed+1, ...) in one run")
    parser.add_argument("--reduce-keys", type=float, default=None, metavar="DEGREES",
                        help="keep only the keys needed to stay within this rotation error")


def apply_arguments(settings, args: argparse.Namespace) -> None:
    """Set ``scene.dimgesture`` from flags made by :func:`add_arguments` (out-of-range values raise ValueError)."""
    for name, value, low, high in (("influence", args.influence, 0.0, 1.0), ("intensity", args.intensity, 0.0, MAX_INTENSITY),
                                   ("takes", args.takes, 1, protocol.MAX_TAKES)):
        if not low <= value <= high:
            raise ValueError(f"--{name} must be between {low:g} and {high:g}, got {value:g}")
    settings.body_parts, settings.use_fingers = args.body_parts, not args.no_fingers
    settings.output, settings.blend_type, settings.influence = "NLA" if args.nla else "ACTION", args.blend_type, args.influence
    settings.blend_in, settings.blend_out = args.blend_in, args.blend_out
    settings.intensity, settings.takes = args.intensity, args.takes
    settings.reduce_keys = args.reduce_keys is not None
    if args.reduce_keys is not None:
        settings.key_tolerance = args.reduce_keys
