"""Where and how generated keys land: body-part mask, intensity, key reduction, a new action or an NLA layer.

Two steps, so a failure changes nothing: :func:`prepare` does all the maths of one take
(mask the bone map, retarget, scale about the idle pose) without touching the scene;
:func:`place_takes` then writes every take of one armature at once:

- output ``ACTION``: each take is a new action that starts as a copy of the armature's active
  action with the driven bones' curves removed, so bones outside the mask keep their keys; the
  first take becomes active, the user's action is stashed in a muted NLA track as before;
- output ``NLA``: the active action is pushed down (unchanged) and each take gets its own
  track and strip above it (blend type, influence, blend in/out), the first one audible.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import bpy
import numpy as np

from ..backend.errors import DimGestureError
from ..backend.motion.body_parts import mask_bone_map
from ..backend.motion.intensity import scale_locations, scale_rotations
from ..backend.motion.key_reduction import reduce_keys
from ..backend.motion.motion import Motion
from ..backend.motion.retarget import RetargetResult
from . import compat, keyframes, rigify_switch, takes
from .request import GenerateRequest, Target

_BONE_PATH = re.compile(r'^pose\.bones\["((?:[^"\\]|\\.)*)"\]')


@dataclass
class PreparedTake:
    """One take's channels, ready to key (nothing in the scene is changed yet)."""

    seed: int
    name: str
    result: RetargetResult
    bone_map: dict[str, str]  # the masked map, which tells Rigify's legs from its arms


@dataclass
class KeyedTake:
    seed: int
    action: bpy.types.Action
    keys_before: int
    keys_after: int
    track: bpy.types.NlaTrack | None = None


def prepare(context, request: GenerateRequest, armature, motion: Motion, seed: int, clip: str,
            bone_map: dict[str, str]) -> PreparedTake:
    """Mask, retarget and scale one generated take for ``armature`` (raises DimGestureError in words)."""
    masked = mask_bone_map(bone_map, motion.skeleton, request.body_parts, request.use_fingers)
    if not masked:
        raise DimGestureError(f"No bone of '{armature.name}' is mapped in the chosen body parts "
                              f"({request.body_parts.lower()}): check its bone map.")
    result = keyframes.retarget_motion(context, armature, motion, masked, root_motion=request.root_motion,
                                       smoothing=request.smoothing)
    return PreparedTake(seed, request.take_name(clip, seed), scale_result(result, request.intensity), masked)


def scale_result(result: RetargetResult, intensity: float) -> RetargetResult:
    """``result`` with every bone's rotation (and the root's location) scaled about its idle pose."""
    if intensity == 1.0:
        return result
    locations = None if result.root_locations is None else scale_locations(result.root_locations, intensity)
    return RetargetResult(result.bones, scale_rotations(result.rotations, intensity), result.root_bone, locations)


def key_chooser(request: GenerateRequest, armature, root_bone: str | None):
    """The ``keep`` function of ``keyframes.write_result`` for the request's key reduction (None: every frame).

    Rotations stay within ``key_tolerance`` degrees; the root bone's location within the distance
    that angle makes at the root's height (its rest head's distance from the armature origin)."""
    if request.key_tolerance is None:
        return None
    angle = np.radians(request.key_tolerance)
    reach = armature.data.bones[root_bone].head_local.length if root_bone else 0.0

    def keep(values: np.ndarray, is_rotation: bool) -> np.ndarray:
        return reduce_keys(values, angle if is_rotation else angle * (reach or 1.0), rotation=is_rotation)

    return keep


def bone_of_path(data_path: str) -> str | None:
    match = _BONE_PATH.match(data_path)
    return match and match.group(1).replace('\\"', '"').replace("\\\\", "\\")


def base_action(armature, driven: set[str], name: str) -> bpy.types.Action:
    """A new action for ``armature``: a copy of its active action without the curves of the ``driven``
    bones and of the Rigify switches keyed with them (their keys are about to be generated: a kept switch
    curve, e.g. from an earlier take, could not be created again), or an empty one. The user's action is
    not changed."""
    anim = armature.animation_data
    if anim is None or anim.action is None:
        return keyframes.new_action(name)
    action = anim.action.copy()
    action.name = name
    if compat.uses_slotted_actions() and anim.action_slot is not None:
        slot = action.slots.get(anim.action_slot.identifier)
        if slot is not None and slot.name_display != armature.name:  # so new curves go into the same slot
            slot.name_display = armature.name
    switches = rigify_switch.switch_paths(armature, driven)
    compat.remove_fcurves(action, armature, lambda f: bone_of_path(f.data_path) in driven or f.data_path in switches)
    return action


def place_takes(context, request: GenerateRequest, target: Target, armature, prepared: list[PreparedTake]) -> list[KeyedTake]:
    """Write the takes of one armature and put them where ``request.output`` says; the first is the active one."""
    root = prepared[0].result.root_bone
    keep = key_chooser(request, armature, root)
    driven = set(prepared[0].result.bones) | ({root} - {None})
    keyed = []
    for take in prepared:
        action = base_action(armature, driven, take.name) if request.output == "ACTION" else keyframes.new_action(take.name)
        before, after = keyframes.write_result(armature, action, take.result, target.start_frame, keep)
        keyframes.key_rig_switches(armature, action, target.start_frame, take.bone_map, take.result, request.root_motion)
        keyed.append(KeyedTake(take.seed, action, before, after))
    if request.output == "NLA":
        compat.push_down_action(armature)
        for take in keyed:
            take.track = add_layer(context, request, armature, take.action, target.start_frame)
    else:
        compat.stash_action(armature)
        compat.assign_action(armature, keyed[0].action)
    takes.record(armature, target.clip, [(k.seed, k.action, k.track.name if k.track else "") for k in keyed])
    takes.activate(armature, 0)
    return keyed


def add_layer(context, request: GenerateRequest, armature, action, start_frame: int) -> bpy.types.NlaTrack:
    """A new top NLA track holding ``action`` as one strip from ``start_frame``, blended as the request says.

    Blender ignores blend in/out once a strip's influence is animated, so an influence below 1 is
    written as its own curve with the same ramps (0 → influence → 0, linear)."""
    anim = armature.animation_data or armature.animation_data_create()
    track = anim.nla_tracks.new()
    track.name = action.name
    strip = track.strips.new(action.name, int(start_frame), action)
    slot = compat.action_slot_for(action, armature) if compat.uses_slotted_actions() else None
    if slot is not None and strip.action_slot != slot:
        strip.action_slot = slot
    render = context.scene.render
    fps = render.fps / render.fps_base
    length = strip.frame_end - strip.frame_start
    ramp_in = min(request.blend_in * fps, length)
    ramp_out = min(request.blend_out * fps, length - ramp_in)
    strip.blend_type = request.blend_type
    strip.extrapolation = "NOTHING"  # a layer: nothing of it before or after the clip
    strip.blend_in, strip.blend_out = ramp_in, ramp_out
    if request.influence < 1.0:
        strip.use_animated_influence = True
        curve = strip.fcurves.find("influence")
        points = [(strip.frame_start, 0.0 if ramp_in else request.influence),
                  (strip.frame_start + ramp_in, request.influence),
                  (strip.frame_end - ramp_out, request.influence),
                  (strip.frame_end, 0.0 if ramp_out else request.influence)]
        points = dict(reversed(points))  # one key per frame (a ramp of 0 s puts two on one frame)
        curve.keyframe_points.clear()
        keyframes.write_keys(curve, np.array(sorted(points)), np.array([points[f] for f in sorted(points)]))
    return track
