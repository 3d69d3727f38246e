"""The keying steps under ``layering``: retarget a generated ``Motion`` onto an armature, write the keys fast.

The motion is resampled to the scene's frame rate, retargeted in numpy
(``backend.motion.retarget``) and written with ``keyframe_points.add`` + ``foreach_set``
(``keyframe_insert`` per key is two orders of magnitude slower). Where the keys go (a new action
or an NLA layer, the user's action kept) is ``layering.place_takes``'s business.
"""

from __future__ import annotations

from collections.abc import Callable

import bpy
import numpy as np

from ..backend.motion.motion import Motion
from ..backend.motion.retarget import RetargetResult, TargetRig, retarget
from . import compat, rigify_switch

DEFAULT_ACTION_NAME = "DiM-Gesture"


def armature_rig(armature_obj: bpy.types.Object) -> TargetRig:
    """The armature's rest pose as a :class:`TargetRig`, bones ordered parents first."""
    if armature_obj.mode == "EDIT":
        armature_obj.update_from_editmode()
    bones = armature_obj.data.bones
    ordered: list[bpy.types.Bone] = []
    stack = [b for b in reversed(bones) if b.parent is None]
    while stack:
        bone = stack.pop()
        ordered.append(bone)
        stack.extend(reversed(bone.children))
    index = {b.name: i for i, b in enumerate(ordered)}
    parents = [index[b.parent.name] if b.parent else -1 for b in ordered]
    rest = np.array([np.array(b.matrix_local) for b in ordered]).reshape(-1, 4, 4)
    return TargetRig([b.name for b in ordered], parents, rest, np.array(armature_obj.matrix_world))


def new_action(name: str | None) -> bpy.types.Action:
    """An empty action for an object (Blender adds ``.001`` … when the name is taken)."""
    action = bpy.data.actions.new(name or DEFAULT_ACTION_NAME)
    if hasattr(action, "id_root"):
        action.id_root = "OBJECT"
    return action


def retarget_motion(context, armature_obj, motion: Motion, bone_map: dict[str, str], *, root_motion: bool = True,
                    smoothing: float = 0.0, match_rest_pose: bool = True) -> RetargetResult:
    """The channels to key for ``motion`` on ``armature_obj`` at the scene's frame rate (nothing is changed yet)."""
    if armature_obj is None or armature_obj.type != "ARMATURE":
        raise ValueError(f"'{getattr(armature_obj, 'name', armature_obj)}' is not an armature")
    if motion.num_frames == 0:
        raise ValueError("the generated motion has no frames")
    render = context.scene.render
    fps = render.fps / render.fps_base
    if abs(motion.fps - fps) > 1e-6:
        motion = motion.resample(fps)
    return retarget(motion, armature_rig(armature_obj), bone_map,
                    root_motion=root_motion, smoothing=max(0.0, smoothing) * fps, match_rest_pose=match_rest_pose)


def write_result(armature_obj, action, result: RetargetResult, start_frame: int,
                 keep: Callable[[np.ndarray, bool], np.ndarray] | None = None) -> tuple[int, int]:
    """Key ``result`` into ``action`` for ``armature_obj`` from ``start_frame`` (keyed bones switch to quaternions).

    ``keep(values (T, C), is_rotation)`` may choose the frame indices to key per bone (all frames by
    default). Returns the number of keys before and after that choice.
    """
    new_fcurve = compat.fcurve_factory(action, armature_obj)
    frames = start_frame + np.arange(len(result.rotations), dtype=np.float64)
    channels = [(bone, "rotation_quaternion", result.rotations[:, k], True) for k, bone in enumerate(result.bones)]
    if result.root_bone is not None:
        channels.append((result.root_bone, "location", result.root_locations, False))
    before = after = 0
    for bone, prop, values, is_rotation in channels:
        if is_rotation:
            armature_obj.pose.bones[bone].rotation_mode = "QUATERNION"
        kept = np.arange(len(frames)) if keep is None else keep(values, is_rotation)
        path = armature_obj.pose.bones[bone].path_from_id(prop)
        for axis in range(values.shape[1]):
            write_keys(new_fcurve(path, axis, bone), frames[kept], values[kept, axis])
        before, after = before + values.size, after + len(kept) * values.shape[1]
    return before, after


def key_rig_switches(armature_obj, action, start_frame: int, bone_map: dict[str, str], result: RetargetResult,
                     root_motion: bool) -> None:
    """Key the rig's IK/FK switches (Rigify) in ``action`` so that the keyed FK controls show."""
    rigify_switch.key_fk_switches(armature_obj, compat.fcurve_factory(action, armature_obj), float(start_frame),
                                  bone_map, set(result.bones), root_motion)


_LINEAR = bpy.types.Keyframe.bl_rna.properties["interpolation"].enum_items["LINEAR"].value


def write_keys(fcurve: bpy.types.FCurve, frames: np.ndarray, values: np.ndarray) -> None:
    """Fill an empty F-curve with one linear key per frame in bulk (``add`` + ``foreach_set``)."""
    n = len(frames)
    fcurve.keyframe_points.add(n)
    co = np.empty(2 * n, dtype=np.float32)
    co[0::2] = frames
    co[1::2] = values
    fcurve.keyframe_points.foreach_set("co", co)
    fcurve.keyframe_points.foreach_set("interpolation", np.full(n, _LINEAR, dtype=np.int32))
    fcurve.update()
