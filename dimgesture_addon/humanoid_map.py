"""An armature's humanoid chains found from its bones (``backend.motion.humanoid``), as a bone map,
and what a map will move: the check that refuses a rig without arms before any generation.

The rest pose is read in world space (the object's rotation and scale applied), so a rig turned
upright by its object (FBX, centimetres) is characterised like any other.
"""

from __future__ import annotations

import bpy
import numpy as np

from ..backend.motion.bone_names import ARM_JOINTS, missing_arm_chains
from ..backend.motion.humanoid import Humanoid, characterise, map_humanoid, skeleton_humanoid
from ..backend.motion.skeleton import Skeleton, default_skeleton

# Source joints per chain, for saying what moves and what stays still.
CHAINS = (
    ("arms", ("LeftShoulder", "LeftArm", "LeftForeArm", "LeftHand",
              "RightShoulder", "RightArm", "RightForeArm", "RightHand")),
    ("spine", ("Hips", "Spine", "Spine1", "Spine2", "Spine3")),
    ("neck and head", ("Neck", "Neck1", "Head")),
    ("legs", ("LeftUpLeg", "LeftLeg", "LeftFoot", "LeftToeBase", "RightUpLeg", "RightLeg", "RightFoot", "RightToeBase")),
    ("fingers", tuple(f"{side}Hand{finger}{k}" for side in ("Left", "Right")
                      for finger in ("Thumb", "Index", "Middle", "Ring", "Pinky") for k in range(1, 5))),
)


def rest_geometry(obj: bpy.types.Object) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """(names, parent indices, heads, tails) of the armature's bones, rest pose in world space."""
    bones = obj.data.bones
    names = [b.name for b in bones]
    index = {n: i for i, n in enumerate(names)}
    parents = np.array([index[b.parent.name] if b.parent else -1 for b in bones], dtype=np.int64)
    heads = np.empty(len(bones) * 3)
    tails = np.empty(len(bones) * 3)
    bones.foreach_get("head_local", heads)
    bones.foreach_get("tail_local", tails)
    m = np.array(obj.matrix_world)
    to_world = lambda p: p.reshape(-1, 3) @ m[:3, :3].T + m[:3, 3]  # noqa: E731
    return names, parents, to_world(heads), to_world(tails)


def armature_humanoid(obj: bpy.types.Object, exclude=()) -> Humanoid:
    """The humanoid chains of armature ``obj`` (bones in ``exclude`` skipped like helpers)."""
    return characterise(*rest_geometry(obj), exclude=exclude)


def _source_skeleton(source) -> Skeleton | None:
    if hasattr(source, "parents") and hasattr(source, "offsets"):  # a Skeleton (maybe the tests' copy of the class)
        return source
    default = default_skeleton()
    return default if list(source) == default.names else None


def structural_map(obj: bpy.types.Object, source, exclude=()) -> dict[str, str]:
    """Source joint → bone of ``obj`` from both skeletons' structure ({} when the source is only
    names of an unknown skeleton)."""
    skeleton = _source_skeleton(source)
    if skeleton is None or len(obj.data.bones) == 0:
        return {}
    return map_humanoid(skeleton_humanoid(skeleton), armature_humanoid(obj, exclude))


def coverage(mapping: dict[str, str]) -> list[tuple[str, int, int]]:
    """(chain, joints mapped, joints in the chain) for every chain of the source skeleton."""
    return [(chain, sum(1 for j in joints if mapping.get(j)), len(joints)) for chain, joints in CHAINS]


def still_note(mapping: dict[str, str]) -> str:
    """A sentence naming the chains that will not move ('' when every chain has a bone)."""
    still = [chain for chain, mapped, _ in coverage(mapping) if mapped == 0]
    if not still:
        return ""
    return f"Not mapped, so they stay still: {', '.join(still)}."


def arm_chain_problem(armature: bpy.types.Object, mapping: dict[str, str]) -> str | None:
    """Why the gestures cannot reach this rig's arms through ``mapping`` (joint → bone), or None when both
    arms are mapped."""
    missing = missing_arm_chains(mapping)
    if not missing:
        return None
    joints = ", ".join(j for chain in missing for j in ARM_JOINTS[chain])
    return (f"The gestures cannot reach the {' and '.join(missing)} of '{armature.name}': neither a bone map preset "
            "nor its bone structure gave an upper arm, forearm and hand. Map the joints "
            f"{joints} to its bones in the DiM-Gesture panel (Bone map), or import a bone map (.json).")
