"""Issue 8 §5 under real Blender: rigs that do not fit the model's skeleton get a clear message or a correct result."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from reliability_blender import bpy, linked_from_library, snapshot
from reliability_helpers import SPEECH_SAMPLE_RATE, speech_like


def generate():
    return bpy.ops.dimgesture.generate("EXEC_DEFAULT", True)


def keyed_rotations(obj) -> dict[str, np.ndarray]:
    """Bone name → (frames, 4) quaternion keys of the active action."""
    action = obj.animation_data.action
    curves = [fc for layer in action.layers for strip in layer.strips for bag in strip.channelbags for fc in bag.fcurves]
    out: dict[str, list] = {}
    for fc in curves:
        if fc.data_path.endswith("rotation_quaternion"):
            bone = fc.data_path.split('"')[1]
            out.setdefault(bone, [None] * 4)[fc.array_index] = [k.co[1] for k in fc.keyframe_points]
    return {bone: np.array(values).T for bone, values in out.items()}


def edit_bones(obj, change) -> None:
    bpy.context.view_layer.objects.active = obj
    bpy.ops.object.mode_set(mode="EDIT")
    change(obj.data.edit_bones)
    bpy.ops.object.mode_set(mode="OBJECT")


def test_nothing_selected(blender, rig):
    bpy.context.view_layer.objects.active = None
    with pytest.raises(RuntimeError, match=r"Select the armature to animate \(nothing is selected\)"):
        generate()
    assert not bpy.data.actions


def test_active_object_is_not_an_armature(blender, rig):
    bpy.context.view_layer.objects.active = bpy.data.objects["RigBody"]
    with pytest.raises(RuntimeError, match=r"Select the armature to animate \('RigBody' is a mesh\)"):
        generate()
    assert not bpy.data.actions


def test_armature_with_none_of_the_mapped_bones(blender, rig):
    other = bpy.data.objects.new("Crane", bpy.data.armatures.new("Crane"))
    bpy.context.scene.collection.objects.link(other)

    def build(bones):
        parent = None
        for i, name in enumerate(("boom", "jib", "hook")):
            bone = bones.new(name)
            bone.head, bone.tail, bone.parent = (0, 0, i), (0, 0, i + 1), parent
            parent = bone

    edit_bones(other, build)
    bpy.context.view_layer.objects.active = other
    before = snapshot(other)
    with pytest.raises(RuntimeError, match="cannot reach the left arm and right arm of 'Crane'.*Bone map"):
        generate()
    assert snapshot(other) == before


def test_missing_fingers_keys_every_other_bone(blender, rig):
    def drop_fingers(bones):
        for bone in [b for b in bones if any(f in b.name for f in ("Thumb", "Index", "Middle", "Ring", "Pinky"))]:
            bones.remove(bone)

    edit_bones(rig, drop_fingers)
    assert not any("Index" in b.name for b in rig.data.bones)
    bpy.context.view_layer.objects.active = rig
    assert generate() == {"FINISHED"}
    keys = keyed_rotations(rig)
    assert {"Hips", "Spine", "Neck", "Head", "LeftArm", "RightForeArm", "LeftHand"} <= set(keys)
    assert all(np.isfinite(v).all() for v in keys.values())


def test_extra_bones_are_left_to_follow_their_parents(blender, rig):
    def add_extras(bones):
        for name, parent in (("Prop", "RightHand"), ("Tail", "Hips"), ("Loose", None)):
            bone = bones.new(name)
            bone.head, bone.tail = (0.0, 0.0, 0.0), (0.0, 0.1, 0.0)
            bone.parent = bones[parent] if parent else None

    edit_bones(rig, add_extras)
    bpy.context.view_layer.objects.active = rig
    assert generate() == {"FINISHED"}
    keys = keyed_rotations(rig)
    assert "Hips" in keys and not {"Prop", "Tail", "Loose"} & set(keys)


def _run_with(rig, adjust) -> dict[str, np.ndarray]:
    adjust(rig)
    bpy.context.view_layer.objects.active = rig
    assert generate() == {"FINISHED"}
    return keyed_rotations(rig)


def _same_rotations(a: dict, b: dict) -> float:
    """Largest 1 - |q·q'| over all bones and frames (0 when every key is the same rotation)."""
    assert set(a) == set(b)
    return max(float(np.max(1.0 - np.abs(np.sum(a[k] * b[k], axis=-1)))) for k in a)


def _holder(location, rotation):
    holder = bpy.data.objects.new("Holder", None)
    bpy.context.scene.collection.objects.link(holder)
    holder.location, holder.rotation_euler = location, rotation
    return holder


def test_scale_turn_and_parent_do_not_change_the_keys(blender, rig):
    """Non-uniform object scale, a turned rig or one parented to a moved, turned object get exactly
    the keys of the plain rig: the gestures live in the character's own frame."""
    plain = _run_with(rig, lambda obj: None)
    scaled = _run_with(rig, lambda obj: setattr(obj, "scale", (1.0, 2.0, 0.5)))
    rig.scale = (1.0, 1.0, 1.0)
    turned = _run_with(rig, lambda obj: setattr(obj, "rotation_euler", (0.0, 0.0, 1.2)))
    rig.rotation_euler = (0.0, 0.0, 0.0)
    parented = _run_with(rig, lambda obj: setattr(obj, "parent", _holder((3.0, -1.0, 0.5), (0.0, 0.0, -2.0))))
    for result in (scaled, turned, parented):
        assert _same_rotations(result, plain) < 1e-6


def _world_direction(rig, frame: int, start: str, end: str) -> np.ndarray:
    bpy.context.scene.frame_set(frame)
    m = rig.matrix_world
    v = np.array(m @ rig.pose.bones[end].head) - np.array(m @ rig.pose.bones[start].head)
    return v / np.linalg.norm(v)


def test_tilted_parent_keeps_the_character_upright(blender, rig):
    """A rig under a tilted parent is keyed so that it still gestures upright in the world (the
    retargeting works in world space): its spine points where the plain rig's does, turned by the yaw."""
    _run_with(rig, lambda obj: None)
    plain = [_world_direction(rig, f, "Hips", "Head") for f in (5, 25)]
    yaw = 0.7
    _run_with(rig, lambda obj: setattr(obj, "parent", _holder((0.0, 0.0, 0.0), (0.35, 0.0, yaw))))
    tilted = [_world_direction(rig, f, "Hips", "Head") for f in (5, 25)]
    turn = np.array([[np.cos(yaw), -np.sin(yaw), 0.0], [np.sin(yaw), np.cos(yaw), 0.0], [0.0, 0.0, 1.0]])
    for a, b in zip(plain, tilted):
        np.testing.assert_allclose(b, turn @ a, atol=1e-3)


def test_mirrored_scale_is_refused_with_advice(blender, rig):
    rig.scale = (-1.0, 1.0, 1.0)
    with pytest.raises(RuntimeError, match="mirrored or degenerate; apply its scale first"):
        generate()


def test_linked_armature_is_refused_in_plain_words(blender, rig, tmp_path):
    linked = linked_from_library(rig, tmp_path / "characters.blend")
    bpy.context.view_layer.objects.active = linked
    assert linked.library is not None
    clip = tmp_path / "line.wav"
    sf.write(clip, speech_like(1.0), SPEECH_SAMPLE_RATE)
    settings = bpy.context.scene.dimgesture
    settings.audio_source, settings.audio_file, settings.steps = "FILE", str(clip), 2
    before = snapshot()
    with pytest.raises(RuntimeError) as err:
        generate()
    assert "linked" in str(err.value) and "Rig" in str(err.value) and "override" in str(err.value).lower()
    assert snapshot() == before
