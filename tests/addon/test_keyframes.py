"""Keying a motion on real armatures (bpy 5.0.1): world positions, timing, kept actions, version branches."""

import importlib
from pathlib import Path

import bpy
import numpy as np
import pytest

from backend.motion import quaternions as quat
from backend.motion.motion import Motion
from backend.motion.retarget import Y_UP_TO_Z_UP
from backend.motion.skeleton import default_skeleton, forward_kinematics, rest_positions
from keying import key_motion

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def mods(addon):
    """The add-on's rig modules, imported from the enabled extension package."""

    class Mods:
        package = addon.__name__
        keyframes = importlib.import_module(f"{addon.__name__}.keyframes")
        compat = importlib.import_module(f"{addon.__name__}.compat")
        rig_builder = importlib.import_module(f"{addon.__name__}.rig_builder")
        bone_map = importlib.import_module(f"{addon.__name__}.bone_map")

    return Mods


def _motion(frames=10, fps=20.0, seed=0):
    skel = default_skeleton()
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 1, frames)[:, None, None]
    amp = rng.normal(scale=0.5, size=(1, skel.num_joints, 3))
    rot = quat.from_axis_angle(amp * np.sin(3 * t + rng.uniform(0, 6, size=(1, skel.num_joints, 3))))
    root = skel.offsets[0] + np.stack([20 * t[:, 0, 0], 3 * np.sin(5 * t[:, 0, 0]), -10 * t[:, 0, 0]], -1)
    return Motion(fps, skel, rot, root)


def _world_heads(obj, names):
    return np.array([obj.matrix_world @ obj.pose.bones[n].head for n in names])


def _fcurves(mods, action, obj):
    return mods.compat.action_fcurves(action, obj)


def test_demo_rig_is_blender_style_with_a_bound_body(mods):
    rig = mods.rig_builder.build_demo_rig(bpy.context)
    skel = default_skeleton()
    assert rig.type == "ARMATURE" and [b.name for b in rig.data.bones] == skel.names
    heads = np.array([b.head_local for b in rig.data.bones])
    np.testing.assert_allclose(heads, 0.01 * quat.rotate(Y_UP_TO_Z_UP, rest_positions(skel)), atol=1e-6)
    # Bones point along the limb: the forearm's Y axis aims at the hand, so rest is not identity.
    fore = rig.data.bones["LeftForeArm"]
    aim = np.array(rig.data.bones["LeftHand"].head_local - fore.head_local)
    np.testing.assert_allclose(np.array(fore.matrix_local)[:3, 1], aim / np.linalg.norm(aim), atol=1e-6)
    identity_rest = sum(np.allclose(np.array(b.matrix_local)[:3, :3], np.eye(3), atol=1e-3) for b in rig.data.bones)
    assert identity_rest < 5
    body = rig.children[0]
    assert body.type == "MESH" and body.modifiers[0].type == "ARMATURE" and body.modifiers[0].object == rig
    groups_per_vertex = [len(v.groups) for v in body.data.vertices]
    assert len(groups_per_vertex) > 500 and set(groups_per_vertex) == {1}


def test_rigs_with_different_rolls_get_the_same_world_positions(mods):
    """The issue's correctness test, evaluated by Blender itself after frame_set."""
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = 20, 1.0
    plain = mods.rig_builder.build_demo_rig(bpy.context, "Plain")
    rolled = mods.rig_builder.build_demo_rig(bpy.context, "Rolled")
    rng = np.random.default_rng(1)
    bpy.context.view_layer.objects.active = rolled
    bpy.ops.object.mode_set(mode="EDIT")
    for bone in rolled.data.edit_bones:
        bone.roll = rng.uniform(-np.pi, np.pi)
    bpy.ops.object.mode_set(mode="OBJECT")
    assert not np.allclose(np.array(rolled.data.bones["LeftArm"].matrix_local),
                           np.array(plain.data.bones["LeftArm"].matrix_local), atol=1e-3)

    motion = _motion()
    skel = motion.skeleton
    names = skel.names
    for rig in (plain, rolled):
        key_motion(mods.package, bpy.context, rig, motion, 10, {n: n for n in names})
    pos, _ = forward_kinematics(skel, motion.rotations, motion.root_positions)
    expected = 0.01 * quat.rotate(Y_UP_TO_Z_UP, pos)
    for k in (0, 4, 9):
        scene.frame_set(10 + k)
        heads_plain, heads_rolled = _world_heads(plain, names), _world_heads(rolled, names)
        np.testing.assert_allclose(heads_rolled, heads_plain, atol=1e-4)
        np.testing.assert_allclose(heads_plain, expected[k], atol=1e-4)
    assert np.abs(expected[9] - expected[0]).max() > 0.05  # the pose really changed


@pytest.mark.parametrize("fps, fps_base", [(24, 1.0), (30, 1.0), (30, 1.001)])
def test_keys_start_at_start_frame_and_cover_the_clip_at_scene_fps(mods, fps, fps_base):
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = fps, fps_base
    rig = mods.rig_builder.build_demo_rig(bpy.context)
    motion = _motion(frames=41)  # 2 s at 20 fps
    action = key_motion(mods.package, bpy.context, rig, motion, 100, {n: n for n in motion.skeleton.names}, name="speech.wav")
    scene_fps = fps / fps_base
    expected_keys = int(np.floor(motion.duration * scene_fps + 1e-9)) + 1
    curves = _fcurves(mods, action, rig)
    assert len(curves) == 4 * 75 + 3
    groups = action.layers[0].strips[0].channelbag(mods.compat.action_slot_for(action, rig)).groups
    assert sorted(g.name for g in groups) == sorted(motion.skeleton.names)
    for fc in curves:
        frames = np.array([kp.co[0] for kp in fc.keyframe_points])
        np.testing.assert_array_equal(frames, 100 + np.arange(expected_keys))
        assert {kp.interpolation for kp in fc.keyframe_points} == {"LINEAR"}
    assert (expected_keys - 1) / scene_fps == pytest.approx(motion.duration, abs=1 / scene_fps)
    assert action.name == "speech.wav" and tuple(action.frame_range) == (100, 100 + expected_keys - 1)


def test_resampled_keys_match_the_motion_between_its_frames(mods):
    scene = bpy.context.scene
    scene.render.fps = 40  # twice the motion rate: every second key is halfway between two source frames
    rig = mods.rig_builder.build_demo_rig(bpy.context)
    motion = _motion(frames=6)
    key_motion(mods.package, bpy.context, rig, motion, 1, {n: n for n in motion.skeleton.names})
    fine = motion.resample(40)
    pos, _ = forward_kinematics(motion.skeleton, fine.rotations, fine.root_positions)
    scene.frame_set(1 + 3)
    np.testing.assert_allclose(_world_heads(rig, motion.skeleton.names), 0.01 * quat.rotate(Y_UP_TO_Z_UP, pos[3]),
                               atol=1e-4)


def test_previous_actions_are_kept_and_generate_twice_keeps_both(mods):
    scene = bpy.context.scene
    scene.render.fps = 20
    rig = mods.rig_builder.build_demo_rig(bpy.context)
    bone = rig.pose.bones["Head"]
    bone.rotation_mode = "XYZ"
    bone.rotation_euler = (0.3, 0.0, 0.0)
    bone.keyframe_insert("rotation_euler", frame=1)
    handmade = rig.animation_data.action
    bone_map = {n: n for n in default_skeleton().names}

    first = key_motion(mods.package, bpy.context, rig, _motion(), 1, bone_map, name="take")
    second = key_motion(mods.package, bpy.context, rig, _motion(seed=1), 1, bone_map, name="take")
    assert rig.animation_data.action == second and first.name == "take" and second.name == "take.001"
    stashed = [(t.name, t.mute, [s.action for s in t.strips]) for t in rig.animation_data.nla_tracks]
    assert stashed == [("[Action Stash]", True, [handmade]), ("[Action Stash]", True, [first])]
    assert handmade.users >= 1 and first.users >= 1
    # The stashed strips keep the slot their action was playing.
    assert rig.animation_data.nla_tracks[1].strips[0].action_slot == mods.compat.action_slot_for(first, rig)
    assert rig.animation_data.action_slot == mods.compat.action_slot_for(second, rig)
    # Muted stashes don't leak into the pose: the generated rotation mode and values rule.
    assert bone.rotation_mode == "QUATERNION"


def test_unmapped_bones_get_no_keys_and_in_place_drops_travel(mods):
    scene = bpy.context.scene
    scene.render.fps = 20
    rig = mods.rig_builder.build_demo_rig(bpy.context)
    bone_map = {n: n for n in default_skeleton().names if "Hand" not in n}
    motion = _motion()
    action = key_motion(mods.package, bpy.context, rig, motion, 1, bone_map, root_motion=False)
    groups = {fc.group.name for fc in _fcurves(mods, action, rig)}
    assert groups == set(bone_map) and not any("Hand" in g for g in groups)
    hips = []
    for frame in (1, 10):
        scene.frame_set(frame)
        hips.append(np.array(rig.matrix_world @ rig.pose.bones["Hips"].head))
    np.testing.assert_allclose(hips[1][:2], hips[0][:2], atol=1e-6)
    assert abs(hips[1][2] - hips[0][2]) > 1e-3  # vertical motion stays


def test_object_transform_is_respected(mods):
    scene = bpy.context.scene
    scene.render.fps = 20
    rig = mods.rig_builder.build_demo_rig(bpy.context)
    rig.location = (2.0, -1.0, 0.5)
    rig.rotation_euler = (0.0, 0.0, np.pi / 2)  # character turned to face +X
    rig.scale = (2.0, 2.0, 2.0)
    bpy.context.view_layer.update()
    motion = _motion()
    key_motion(mods.package, bpy.context, rig, motion, 1, {n: n for n in motion.skeleton.names})
    pos, _ = forward_kinematics(motion.skeleton, motion.rotations, motion.root_positions)
    turn = np.array([np.cos(np.pi / 4), 0.0, 0.0, np.sin(np.pi / 4)])
    expected = 0.02 * quat.rotate(quat.multiply(turn, Y_UP_TO_Z_UP), pos[6]) + np.array([2.0, -1.0, 0.5])
    scene.frame_set(7)
    np.testing.assert_allclose(_world_heads(rig, motion.skeleton.names), expected, atol=1e-4)


def test_non_armatures_and_stale_maps_raise(mods):
    mesh_obj = bpy.data.objects.new("Box", bpy.data.meshes.new("Box"))
    with pytest.raises(ValueError, match="'Box' is not an armature"):
        key_motion(mods.package, bpy.context, mesh_obj, _motion(), 1, {"Hips": "Hips"})
    rig = mods.rig_builder.build_demo_rig(bpy.context)
    with pytest.raises(ValueError, match="lacks: Pelvis"):
        key_motion(mods.package, bpy.context, rig, _motion(), 1, {"Hips": "Pelvis"})
    assert rig.animation_data is None or rig.animation_data.action is None  # nothing half-written


class _Recorder:
    """Records attribute calls; stands in for bpy structs of another Blender version."""

    def __init__(self, log, name):
        self._log, self._name = log, name

    def __getattr__(self, attr):
        return _Recorder(self._log, f"{self._name}.{attr}")

    def __call__(self, *args, **kwargs):
        self._log.append((self._name, args, kwargs))
        return _Recorder(self._log, f"{self._name}()")


def test_legacy_action_branch_uses_action_fcurves_with_groups(mods):
    compat = mods.compat
    assert not compat.uses_slotted_actions((4, 2, 9)) and not compat.uses_slotted_actions((4, 3, 2))
    assert compat.uses_slotted_actions((4, 4, 0)) and compat.uses_slotted_actions()
    log = []
    new = compat.fcurve_factory(_Recorder(log, "action"), None, version=(4, 2, 0))
    new('pose.bones["Hips"].location', 2, "Hips")
    assert log == [("action.fcurves.new", ('pose.bones["Hips"].location',), {"index": 2, "action_group": "Hips"})]


def test_write_keys_goes_through_foreach_set(mods):
    log = []
    mods.keyframes.write_keys(_Recorder(log, "fc"), np.arange(6000.0), np.linspace(0, 1, 6000))
    calls = [name for name, _, _ in log]
    assert calls == ["fc.keyframe_points.add", "fc.keyframe_points.foreach_set", "fc.keyframe_points.foreach_set",
                     "fc.update"]
    co = log[1][1][1]
    assert log[1][1][0] == "co" and co.shape == (12000,)
    np.testing.assert_allclose(co[0::2], np.arange(6000.0))
    np.testing.assert_allclose(co[1::2], np.linspace(0, 1, 6000), atol=1e-7)


def test_sequencer_strips_picks_the_collection_that_exists(mods):
    compat = mods.compat

    class OldEditor:
        sequences = []  # empty, hence falsy: must still be chosen
        sequences_all = []

    class OldScene:
        sequence_editor = OldEditor()

    assert compat.sequencer_strips(OldScene()) is OldEditor.sequences
    assert compat.sequencer_strips(OldScene(), nested=True) is OldEditor.sequences_all
    scene = bpy.data.scenes.new("Bare")
    assert scene.sequence_editor is None and compat.sequencer_strips(scene) == ()
    editor = scene.sequence_editor_create()
    strip = editor.strips.new_sound("speech", str(REPO / "assets" / "demo_speech.wav"), 1, 100)
    assert list(compat.sequencer_strips(scene)) == [strip]


def test_draw_progress_falls_back_to_a_label(mods):
    log = []
    mods.compat.draw_progress(_Recorder(log, "layout"), 0.25, "Denoising", progress_bar=False)
    mods.compat.draw_progress(_Recorder(log, "layout"), 0.5, "Denoising", progress_bar=True)
    assert log == [("layout.label", (), {"text": "Denoising (25%)"}),
                   ("layout.progress", (), {"factor": 0.5, "type": "BAR", "text": "Denoising"})]
    assert mods.compat.has_progress_bar()


def test_bvh_imported_armature_matches_blenders_own_importer(mods, tmp_path):
    """Cross-check (DESIGN.md §9): keying our motion onto the armature Blender's BVH importer built
    from the same motion reproduces the importer's own animation (its R_rest⁻¹·R_bvh·R_rest)."""
    from backend.motion.bvh import write_bvh

    scene = bpy.context.scene
    scene.render.fps = 20
    motion = _motion(frames=8, seed=3)
    path = tmp_path / "take.bvh"
    write_bvh(path, motion)
    bpy.ops.preferences.addon_enable(module="io_anim_bvh")
    assert bpy.ops.import_anim.bvh(filepath=str(path), global_scale=0.01, frame_start=1,
                                   use_fps_scale=False) == {"FINISHED"}  # default axes: -Z forward, Y up
    imported = bpy.context.view_layer.objects.active
    names = [b.name for b in imported.data.bones]
    reference = []
    for k in range(motion.num_frames):
        scene.frame_set(1 + k)
        reference.append(_world_heads(imported, names))
    bone_map = mods.bone_map.bone_map_for(imported, motion.skeleton)
    assert imported.dimgesture_bone_map.preset == "Auto: Same names"
    key_motion(mods.package, bpy.context, imported, motion, 1, bone_map)
    for k in range(motion.num_frames):
        scene.frame_set(1 + k)
        np.testing.assert_allclose(_world_heads(imported, names), reference[k], atol=1e-4)
    assert np.abs(reference[-1] - reference[0]).max() > 0.05


def test_legacy_assign_and_stash_leave_slots_alone(mods):
    """Before 4.4 there are no slots: assigning and stashing must not touch ``action_slot``."""
    from types import SimpleNamespace

    made = []

    class Strips:
        def new(self, name, start, action):
            made.append(SimpleNamespace(name=name, start=start, action=action))
            return made[-1]

    class Tracks:
        def new(self):
            return SimpleNamespace(strips=Strips(), name="", mute=False)

    previous = SimpleNamespace(name="walk", frame_range=(12.0, 40.0))
    anim = SimpleNamespace(action=previous, nla_tracks=Tracks())
    obj = SimpleNamespace(animation_data=anim)
    track = mods.compat.stash_action(obj, version=(4, 2, 0))
    assert (track.name, track.mute, anim.action) == ("[Action Stash]", True, None)
    assert [(s.name, s.start, s.action) for s in made] == [("walk", 12, previous)]
    assert not hasattr(made[0], "action_slot")
    new_action = SimpleNamespace(name="take")
    mods.compat.assign_action(obj, new_action, version=(4, 3, 0))
    assert anim.action is new_action and not hasattr(anim, "action_slot")
    assert mods.compat.stash_action(SimpleNamespace(animation_data=None), version=(4, 2, 0)) is None
