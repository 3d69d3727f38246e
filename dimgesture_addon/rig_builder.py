"""A procedural demo character: the default skeleton as a Blender-style armature plus a simple body.

Bones sit on the default skeleton's rest joints (Y-up centimetres → Z-up metres) but point
along the limb with Blender's own roll, so their rest orientations are not the skeleton's
identity rest rotations: the demo exercises real retargeting rather than a copy of the data.
The body is one mesh of tapered cylinders, one per limb segment, each bound rigidly to the
bone that carries it.
"""

from __future__ import annotations

import bpy
import numpy as np

from ..backend.motion import quaternions as quat
from ..backend.motion.retarget import Y_UP_TO_Z_UP
from ..backend.motion.skeleton import default_skeleton, rest_positions

CM = 0.01
_SIDES = 10
# Segment radius in metres, by the name of the joint that carries the segment (first match wins).
_RADII = (("Thumb", 0.011), ("Index", 0.009), ("Middle", 0.009), ("Ring", 0.009), ("Pinky", 0.008),
          ("Hand", 0.02), ("ForeArm", 0.04), ("Arm", 0.05), ("Shoulder", 0.055), ("Head", 0.095),
          ("Neck", 0.05), ("Spine", 0.12), ("Hips", 0.12), ("UpLeg", 0.075), ("ToeBase", 0.03),
          ("Leg", 0.06), ("Foot", 0.045))
# Helper joints inside limbs that get no body segment of their own.
_HIDDEN = ("ForeArmEnd", "ArmEnd", "LegEnd", "UpLegEnd")


def build_demo_rig(context: bpy.types.Context, name: str = "DemoRig") -> bpy.types.Object:
    """Create and return the demo armature object ``name`` (with a child mesh ``name + "Body"``),
    linked into the scene's collection and left active in object mode."""
    skeleton = default_skeleton()
    heads = CM * quat.rotate(Y_UP_TO_Z_UP, rest_positions(skeleton))
    tails = _tails(skeleton, heads)

    armature = bpy.data.armatures.new(name)
    obj = bpy.data.objects.new(name, armature)
    context.scene.collection.objects.link(obj)
    for other in context.view_layer.objects.selected:
        other.select_set(False)
    context.view_layer.objects.active = obj
    obj.select_set(True)
    bpy.ops.object.mode_set(mode="EDIT")
    edit = armature.edit_bones
    for j, joint in enumerate(skeleton.names):
        bone = edit.new(joint)
        bone.head, bone.tail = heads[j], tails[j]
        p = skeleton.parents[j]
        if p >= 0:
            bone.parent = edit[skeleton.names[p]]
            bone.use_connect = bool(np.allclose(tails[p], heads[j], atol=1e-6))
    bpy.ops.object.mode_set(mode="OBJECT")
    armature.display_type = "STICK"

    body = _body_mesh(f"{name}Body", skeleton, heads)
    body_obj = bpy.data.objects.new(f"{name}Body", body)
    context.scene.collection.objects.link(body_obj)
    body_obj.parent = obj
    for bone_name in skeleton.names:
        body_obj.vertex_groups.new(name=bone_name)
    _assign_groups(body_obj, skeleton, heads)
    body_obj.modifiers.new("Armature", "ARMATURE").object = obj
    return obj


def _tails(skeleton, heads: np.ndarray) -> np.ndarray:
    """Each bone points at the child that best continues its parent's direction (helper ``…End``
    joints only when nothing else is there); leaves continue their parent's direction."""
    tails = np.empty_like(heads)
    for j in range(skeleton.num_joints):
        p = skeleton.parents[j]
        incoming = np.array([0.0, 0.0, 1.0]) if p < 0 else heads[j] - heads[p]
        incoming = incoming / max(np.linalg.norm(incoming), 1e-9)
        children = skeleton.children(j)
        proper = [c for c in children if not skeleton.names[c].endswith("End")]
        candidates = [c for c in (proper or children) if np.linalg.norm(heads[c] - heads[j]) > 1e-4]
        if candidates:
            aims = [(heads[c] - heads[j]) / np.linalg.norm(heads[c] - heads[j]) for c in candidates]
            best = candidates[int(np.argmax([a @ incoming for a in aims]))]
            tails[j] = heads[best]
        else:
            parent_len = np.linalg.norm(heads[j] - heads[p]) if p >= 0 else 0.1
            tails[j] = heads[j] + incoming * max(0.5 * parent_len, 0.015)
    return tails


def _segments(skeleton, heads: np.ndarray) -> list[tuple[int, int]]:
    """(carrying joint, end joint) pairs that get a body segment."""
    return [(int(skeleton.parents[j]), j) for j in range(1, skeleton.num_joints)
            if not skeleton.names[j].endswith(_HIDDEN)
            and np.linalg.norm(heads[j] - heads[skeleton.parents[j]]) > 1e-4]


def _radius(name: str) -> float:
    return next((r for key, r in _RADII if key in name), 0.03)


def _body_mesh(name: str, skeleton, heads: np.ndarray) -> bpy.types.Mesh:
    """Closed tapered cylinders from each carrying joint to its end joint."""
    verts: list[np.ndarray] = []
    faces: list[tuple[int, ...]] = []
    angles = np.linspace(0, 2 * np.pi, _SIDES, endpoint=False)
    for parent, child in _segments(skeleton, heads):
        a, b = heads[parent], heads[child]
        length = np.linalg.norm(b - a)
        axis = (b - a) / length
        helper = np.array([1.0, 0.0, 0.0]) if abs(axis[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
        u = np.cross(axis, helper)
        u /= np.linalg.norm(u)
        v = np.cross(axis, u)
        r = _radius(skeleton.names[parent])
        ring = np.cos(angles)[:, None] * u + np.sin(angles)[:, None] * v
        base = sum(len(x) for x in verts)
        verts.append(np.concatenate([a + r * ring, b + 0.8 * r * ring]))
        for k in range(_SIDES):
            n = (k + 1) % _SIDES
            faces.append((base + k, base + n, base + _SIDES + n, base + _SIDES + k))
        faces.append(tuple(base + k for k in reversed(range(_SIDES))))
        faces.append(tuple(base + _SIDES + k for k in range(_SIDES)))
    mesh = bpy.data.meshes.new(name)
    mesh.from_pydata(np.concatenate(verts).tolist(), [], faces)
    mesh.update()
    return mesh


def _assign_groups(body_obj: bpy.types.Object, skeleton, heads: np.ndarray) -> None:
    """Every segment's vertices, weight 1, in the group of the bone that carries the segment
    (segments were written in :func:`_segments` order, ``2 * _SIDES`` vertices each)."""
    for k, (parent, _) in enumerate(_segments(skeleton, heads)):
        first = 2 * _SIDES * k
        body_obj.vertex_groups[skeleton.names[parent]].add(list(range(first, first + 2 * _SIDES)), 1.0, "REPLACE")
