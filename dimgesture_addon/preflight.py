"""Preflight: every reason a Generate cannot run, found before the backend is asked for anything.

A rig that cannot be keyed, missing speech, an output that cannot be written or a clip longer than
the preferences allow would otherwise be found after the model ran (or never: keys on linked data
vanish at the next save). The checks only read the scene, so a refusal starts nothing and changes
nothing, and they decode no audio and load no model, so they take well under a second. ``poll``
runs the cheapest of them on every redraw (``full=False``) to grey out Generate with the reason.
"""

from __future__ import annotations

import os

import bpy

from ..backend.errors import DimGestureError
from ..backend.fileio import output_problems
from ..backend.motion.skeleton import default_skeleton
from . import bone_map, compat, humanoid_map

DEFAULT_MAX_CLIP_MINUTES = 10.0  # 10 min at 25 fps: about 4.5 million keys on a full rig


# --- the rig -----------------------------------------------------------------------------------------
def armature_problem(obj) -> str | None:
    """Why ``obj`` (the active object) is not an armature Generate may key, or None."""
    if obj is None or obj.type != "ARMATURE":
        what = f"'{obj.name}' is a {obj.type.lower()}" if obj else "nothing is selected"
        return f"Select the armature to animate ({what})."
    if obj.library is not None:  # keys on linked data would vanish at the next save
        return (f"The armature '{obj.name}' is linked from {obj.library.filepath} and cannot keep new animation: "
                "make a library override of it first (Object > Library Override).")
    if obj.override_library is not None and obj.override_library.is_system_override:
        return (f"The armature '{obj.name}' is a library override that is not editable, so its bones cannot be keyed: "
                "make it editable first (Outliner: right-click it > Library Override > Make Editable).")
    return None


def rig_problems(obj, mapping: dict[str, str]) -> list[str]:
    """Why armature ``obj`` cannot be keyed through ``mapping`` (joint → bone; ``bone_map.chosen_map``,
    the map Generate would key through, without storing anything); empty when it can. Arms that cannot
    be reached are a refusal too: a rig without arms cannot gesture (``humanoid_map``)."""
    problems = bone_map.map_problems(obj, mapping)
    if problems:
        return problems
    problem = humanoid_map.arm_chain_problem(obj, mapping)
    return [problem] if problem else []


# --- the speech --------------------------------------------------------------------------------------
def sound_strips(scene) -> list:
    """Every sound strip of the scene, meta-strip contents included."""
    return [s for s in compat.sequencer_strips(scene, nested=True) if s.type == "SOUND"]


def chosen_strip(scene, settings):
    """The sound strip the panel points at (DimGestureError when there is none to use)."""
    strips = sound_strips(scene)
    if settings.strip_name:
        strip = next((s for s in strips if s.name == settings.strip_name), None)
        if strip is None:
            raise DimGestureError(f"There is no sound strip named '{settings.strip_name}' in the scene '{scene.name}'.")
        return strip
    if len(strips) == 1:
        return strips[0]
    raise DimGestureError("Choose the sound strip to use in the DiM-Gesture panel." if strips else
                          f"The scene '{scene.name}' has no sound strip: add one in the Video Sequencer or pick a file.")


def strip_sound_file(strip) -> str | None:
    """The file a strip's sound is read from (None: packed in the .blend); DimGestureError when it is missing."""
    sound = strip.sound
    if sound is None:
        raise DimGestureError(f"The sound strip '{strip.name}' has no sound data.")
    if sound.packed_file is not None:
        return None
    path = bpy.path.abspath(sound.filepath, library=sound.library)
    if sound.samplerate == 0 or not os.path.isfile(path):  # Blender does not raise for a missing file
        raise DimGestureError(f"The sound strip '{strip.name}' points to a file that cannot be read: {path}")
    return path


def speech_file(settings) -> str:
    """The speech file chosen in the panel (``audio_source == 'FILE'``); DimGestureError when it is missing."""
    if not settings.audio_file:
        raise DimGestureError("Choose a speech file in the DiM-Gesture panel.")
    path = bpy.path.abspath(settings.audio_file)
    if not os.path.isfile(path):
        raise DimGestureError(f"The speech file does not exist: {path}")
    return path


def file_seconds(path: str) -> float | None:
    """Length of an audio file from its header (Blender's audio library); None when it cannot tell,
    in which case the backend reads the file and explains what is wrong with it."""
    try:
        import aud

        sound = aud.Sound(path)
        rate = sound.specs[0]
        return sound.length / rate if rate > 0 else None
    except Exception:  # aud.error, or a build without audaspace
        return None


def speech_length(scene, settings, read_files: bool = True) -> tuple[str, float | None]:
    """(name, seconds) of the speech Generate would send, the whole sound file as the backend reads it;
    DimGestureError when it is missing. Without ``read_files`` a file's length is not measured (None)."""
    if settings.audio_source == "FILE":
        path = speech_file(settings)
        return os.path.basename(path), (file_seconds(path) if read_files else None)
    strip = chosen_strip(scene, settings)
    strip_sound_file(strip)
    return strip.name, strip.frame_duration * scene.render.fps_base / scene.render.fps


def duration_text(seconds: float) -> str:
    """``2 h 5 min``, ``12 min 30 s``, ``45 s``, ``1.5 s``."""
    if seconds < 59.5:
        return f"{seconds:.3g} s"
    seconds = int(round(seconds))
    hours, minutes, secs = seconds // 3600, seconds // 60 % 60, seconds % 60
    parts = [f"{hours} h"] * bool(hours) + [f"{minutes} min"] * bool(minutes) + [f"{secs} s"] * bool(secs)
    return " ".join(parts[:2])


def clip_length_problem(name: str, seconds: float | None, max_minutes: float) -> str | None:
    """The refusal for a clip over the preferences' limit, saying what is allowed and how to go beyond it."""
    limit = max_minutes * 60.0
    if seconds is None or seconds <= limit:
        return None
    return (f"The speech '{name}' is {duration_text(seconds)} long; Generate takes clips of at most {duration_text(limit)} "
            f"('Longest clip' in the DiM-Gesture preferences). Raise that limit, or split the recording into files of at most "
            f"{duration_text(limit)} and generate each one from its own start frame.")


# --- all together ------------------------------------------------------------------------------------
def generate_problems(context, max_minutes: float, outputs: list[str] = (), full: bool = True,
                      mapping: dict[str, str] | None = None) -> list[str]:
    """Every reason Generate cannot run in ``context`` (empty: it can). ``outputs`` are files it would
    write (overwriting them is fine: they are the operator's own); ``mapping`` the bone map it would key
    through (default: ``bone_map.current_map``). ``full=False`` leaves out what is not cheap enough for
    ``poll`` (the bone map match, reading a file's header, probing output folders)."""
    scene = context.scene
    obj = context.active_object
    problems = [p for p in [armature_problem(obj)] if p]
    if not problems and full:
        problems += rig_problems(obj, bone_map.current_map(obj, default_skeleton()) if mapping is None else mapping)
    try:
        name, seconds = speech_length(scene, scene.dimgesture, read_files=full)
    except DimGestureError as err:
        problems.append(str(err))
    else:
        problems += [p for p in [clip_length_problem(name, seconds, max_minutes)] if p]
    if full:
        problems += output_problems([bpy.path.abspath(p) for p in outputs if p], overwrite=True)
    return problems
