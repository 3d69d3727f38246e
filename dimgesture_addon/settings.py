"""What the panel edits: per-scene generation settings (saved in the .blend) and the live job state.

The job state lives on the window manager, which is never saved, so a crash or a reload never
leaves a stale "running" flag behind in a file.
"""

from __future__ import annotations

import bpy
from bpy.props import BoolProperty, EnumProperty, FloatProperty, IntProperty, PointerProperty, StringProperty

from ..backend import protocol
from .workflow_settings import WorkflowSettings

# The protocol's samplers as enum items; the scene setting and the preferences each put their own default first.
PROTOCOL_SAMPLER_ITEMS = [
    (name.upper(), name.upper().replace("SOLVER++", "-Solver++"), f"Sample with {name}") for name in protocol.SAMPLERS
]
SAMPLER_ITEMS = [("DEFAULT", "Preferences default", "Use the sampler set in the add-on preferences")] + PROTOCOL_SAMPLER_ITEMS


def sampler_name(item: str) -> str | None:
    """Enum identifier → protocol sampler name (None for a default item: let the next level decide)."""
    return None if item in ("DEFAULT", "CHECKPOINT") else item.lower()


def headless(context) -> bool:
    """No event loop to run a modal operator (``blender -b``, or a call without a window): wait synchronously."""
    return bpy.app.background or context.window is None


def redraw(context) -> None:
    """Redraw the areas that show the job state: the sidebar panel and the preferences."""
    screen = context.screen
    for area in screen.areas if screen is not None else ():
        if area.type in {"VIEW_3D", "PREFERENCES"}:
            area.tag_redraw()


class DimGestureSceneSettings(WorkflowSettings, bpy.types.PropertyGroup):
    audio_source: EnumProperty(
        name="Audio",
        items=[("STRIP", "Sound strip", "A sound strip of this scene's Video Sequencer"),
               ("FILE", "File", "A speech file on disk (WAV, FLAC, OGG)")],
        default="STRIP",
    )
    strip_name: StringProperty(name="Strip", description="Sound strip whose speech drives the gestures")
    audio_file: StringProperty(name="File", subtype="FILE_PATH", description="Speech file that drives the gestures")
    use_strip_start: BoolProperty(
        name="Start at the strip", default=True,
        description="Place the first key where the sound strip starts, so gestures stay in sync with the sound")
    start_frame: IntProperty(name="Start frame", default=1, description="Frame of the first generated key")
    seed: IntProperty(name="Seed", default=0, min=0, description="Same seed, same clip: same gestures")
    steps: IntProperty(name="Steps", default=0, min=0, max=1000,
                       description="Denoising steps (0: the preferences' default); fewer is faster, more is finer")
    sampler: EnumProperty(name="Sampler", items=SAMPLER_ITEMS, default="DEFAULT")
    guidance: FloatProperty(
        name="Guidance", default=0.0, min=0.0, soft_max=4.0, max=20.0, step=10, precision=2,
        description="How strongly the gestures follow the speech (classifier-free guidance; 0: the checkpoint's "
                    "default, 1: no guidance, above 1: closer to the speech, less varied)")
    style_file: StringProperty(name="Style reference", subtype="FILE_PATH",
                               description="Optional speech clip whose delivery style the gestures should follow")
    style_strength: FloatProperty(
        name="Style strength", default=0.0, min=0.0, soft_max=3.0, max=10.0, step=10, precision=2,
        description="How strongly the gestures follow the style reference (0: the checkpoint's default, 1: as "
                    "trained, above 1: more of the reference speaker's habits); used with a style reference")
    root_motion: BoolProperty(name="Root motion", default=False,
                              description="Move the character over the ground as generated (off: gesture in place)")
    smoothing: FloatProperty(name="Smoothing", default=0.0, min=0.0, max=0.5, step=1, precision=3, unit="TIME_ABSOLUTE",
                             description="Width (seconds) of a Gaussian smoothing of the generated motion (0: as generated)")


class DimGestureJobState(bpy.types.PropertyGroup):
    running: BoolProperty(default=False)
    progress: FloatProperty(default=0.0, min=0.0, max=1.0, subtype="FACTOR")
    status: StringProperty(default="")
    backend_info: StringProperty(default="", description="The backend's last hello answer, one item per line")


classes = (DimGestureSceneSettings, DimGestureJobState)


def register() -> None:
    bpy.types.Scene.dimgesture = PointerProperty(type=DimGestureSceneSettings)
    bpy.types.WindowManager.dimgesture_state = PointerProperty(type=DimGestureJobState)


def unregister() -> None:
    del bpy.types.WindowManager.dimgesture_state
    del bpy.types.Scene.dimgesture
