"""Bone maps under real Blender: presets, name matching, the map stored on the armature."""

import importlib
import json

import bpy
import numpy as np
import pytest

from backend.motion import quaternions as quat
from backend.motion.retarget import Y_UP_TO_Z_UP
from backend.motion.skeleton import default_skeleton, forward_kinematics, rest_positions
from keying import key_motion

SOURCE = default_skeleton().names


@pytest.fixture
def bm(addon):
    return importlib.import_module(f"{addon.__name__}.bone_map")


def _armature(name, bones):
    """An armature from (name, parent name or None, head, tail) tuples, active, in object mode."""
    arm = bpy.data.armatures.new(name)
    obj = bpy.data.objects.new(name, arm)
    bpy.context.scene.collection.objects.link(obj)
    bpy.context.view_layer.objects.active = obj
    bpy.ops.object.mode_set(mode="EDIT")
    for bone_name, parent, head, tail in bones:
        eb = arm.edit_bones.new(bone_name)
        eb.head, eb.tail = head, tail
        if parent:
            eb.parent = arm.edit_bones[parent]
    bpy.ops.object.mode_set(mode="OBJECT")
    return obj


def _mixamo_rig(bm, namespace="mixamorig:"):
    """A Mixamo-named rig on the default skeleton's joints: each preset bone sits on its joint,
    parented to the nearest mapped ancestor (Mixamo has no Spine3 or Neck1)."""
    skel = default_skeleton()
    mapping = {j: b.replace("mixamorig:", namespace) for j, b in bm.preset_named("Mixamo").mapping.items()}
    heads = 0.01 * quat.rotate(Y_UP_TO_Z_UP, rest_positions(skel))
    bones = []
    for j, joint in enumerate(skel.names):
        if joint not in mapping:
            continue
        p = skel.parents[j]
        while p >= 0 and skel.names[p] not in mapping:
            p = skel.parents[p]
        bones.append((mapping[joint], mapping[skel.names[p]] if p >= 0 else None, heads[j], heads[j] + [0, 0, 0.05]))
    return _armature("Mixamo", bones), mapping


def test_normalized_names_ignore_prefixes_case_separators_and_sides(bm):
    from backend.motion.bone_names import normalize_name as n
    assert n("mixamorig:LeftHandIndex1") == n("LeftHandIndex1") == n("left_hand_index1") == "l:handindex1"
    assert n("DEF-upper_arm.L") == n("ORG-upper_arm_l") == n("upper_arm.L") == n("L_UpperArm") == "l:upperarm"
    assert n("DEF-upper_arm.L.001") == "l:upperarm001" != n("upper_arm.L")
    assert n("RightArm") == n("Arm_R") == n("arm.r") == n("ArmRight") == "r:arm"
    assert n("Bip01 R Forearm") == "r:bip01forearm"
    assert n("spine.003") == ":spine003" and n("Hips") == n("mixamorig1:hips") == ":hips"
    assert n("Lip") == ":lip" and n("Root") == ":root"


def test_bundled_presets_are_valid_and_cover_the_body(bm):
    by_name = {p.name: p for p in bm.presets()}
    assert set(by_name) == {"Mixamo", "Rigify deform bones", "Rigify FK controls", "Blender human metarig",
                            "Same names (BVH import)"}
    for preset in by_name.values():
        assert set(preset.mapping) <= set(SOURCE), preset.name
        for joint in ("Hips", "Head", "LeftArm", "RightForeArm", "LeftHand", "RightUpLeg", "LeftFoot"):
            assert preset.mapping.get(joint), (preset.name, joint)
    assert by_name["Mixamo"].mapping["LeftHandIndex2"] == "mixamorig:LeftHandIndex2"
    assert by_name["Rigify deform bones"].mapping["LeftArm"] == "DEF-upper_arm.L"
    assert by_name["Rigify FK controls"].mapping["RightForeArm"] == "forearm_fk.R"
    assert by_name["Blender human metarig"].mapping["Hips"] == "spine"
    assert by_name["Same names (BVH import)"].mapping == {n: n for n in SOURCE}


def test_bad_preset_files_name_the_file(bm, tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(ValueError, match="broken.json.*JSON"):
        bm.load_preset(broken)
    twice = tmp_path / "twice.json"
    twice.write_text(json.dumps({"name": "x", "map": {"Hips": "a", "Spine": "a"}}))
    with pytest.raises(ValueError, match="twice.json.*driven twice: a"):
        bm.load_preset(twice)
    shapeless = tmp_path / "shapeless.json"
    shapeless.write_text(json.dumps({"name": "x", "map": ["Hips"]}))
    with pytest.raises(ValueError, match="shapeless.json.*'map'"):
        bm.load_preset(shapeless)


@pytest.mark.parametrize("namespace", ["mixamorig:", "mixamorig1:"])
def test_mixamo_rig_is_matched_automatically(bm, addon, namespace):
    rig, expected = _mixamo_rig(bm, namespace)
    mapping = bm.bone_map_for(rig, default_skeleton())
    assert mapping == expected and len(mapping) == 65
    assert rig.dimgesture_bone_map.preset == "Auto: Mixamo"
    assert [p.source for p in rig.dimgesture_bone_map.pairs] == SOURCE  # one editable row per joint
    # The arm chain below the chest is fully mapped: its shape follows the source exactly.
    skel = default_skeleton()
    rng = np.random.default_rng(0)
    rot = quat.from_axis_angle(rng.normal(scale=0.4, size=(3, skel.num_joints, 3)))
    from backend.motion.motion import Motion

    bpy.context.scene.render.fps = 20
    key_motion(addon.__name__, bpy.context, rig, Motion(20, skel, rot, np.tile(skel.offsets[0], (3, 1))), 1, mapping)
    bpy.context.scene.frame_set(3)
    pos, _ = forward_kinematics(skel, rot, np.tile(skel.offsets[0], (3, 1)))
    chain = ["LeftShoulder", "LeftArm", "LeftForeArm", "LeftHand", "LeftHandIndex3"]
    got = np.array([rig.matrix_world @ rig.pose.bones[mapping[j]].head for j in chain])
    want = 0.01 * quat.rotate(Y_UP_TO_Z_UP, pos[2, [skel.index(j) for j in chain]])
    np.testing.assert_allclose(got - got[0], want - want[0], atol=1e-4)


def test_blender_metarig_and_rigify_names_pick_their_presets(bm, addon):
    bpy.ops.preferences.addon_enable(module="rigify")
    try:
        bpy.ops.object.armature_human_metarig_add()
        meta = bpy.context.active_object
        name, mapping = bm.auto_map(SOURCE, [b.name for b in meta.data.bones])
        assert name == "Blender human metarig"
        assert mapping == bm.preset_named(name).mapping  # every preset bone exists in Blender's metarig
        # The metarig stands in an A-pose; keyed with the source's rest (T-pose), its arms go level.
        skel = default_skeleton()
        from backend.motion.motion import Motion

        rest = Motion(20, skel, np.tile(skel.rest_rotations, (2, 1, 1)), np.tile(skel.offsets[0], (2, 1)))
        arm = meta.pose.bones["upper_arm.L"]
        rest_aim = np.array(arm.tail - arm.head) / arm.length
        assert rest_aim[2] < -0.4  # about 28° down
        bpy.context.scene.render.fps = 20
        key_motion(addon.__name__, bpy.context, meta, rest, 1, mapping)
        bpy.context.scene.frame_set(1)
        for bone in ("upper_arm.L", "forearm.L", "upper_arm.R"):
            pb = meta.pose.bones[bone]
            aim = np.array(meta.matrix_world.to_3x3() @ (pb.tail - pb.head)) / pb.length
            np.testing.assert_allclose(np.abs(aim), [1.0, 0.0, 0.0], atol=1e-4)
    finally:
        bpy.ops.preferences.addon_disable(module="rigify")
    deform = ["DEF-" + b for b in bm.preset_named("Blender human metarig").mapping.values()] + ["DEF-upper_arm.L.001"]
    name, mapping = bm.auto_map(SOURCE, deform)
    assert name == "Rigify deform bones" and mapping["LeftArm"] == "DEF-upper_arm.L"
    name, mapping = bm.auto_map(SOURCE, ["Hips", "Spine", "LeftArm", "Head", "Extra"])
    assert name == "Same names" and mapping == {"Hips": "Hips", "Spine": "Spine", "LeftArm": "LeftArm", "Head": "Head"}


def test_bone_map_survives_save_and_reload(bm, addon, tmp_path):
    rig_builder = importlib.import_module(f"{addon.__name__}.rig_builder")
    rig = rig_builder.build_demo_rig(bpy.context)
    bpy.ops.dimgesture.bone_map_fill(preset="Same names (BVH import)")
    pairs = rig.dimgesture_bone_map.pairs
    pairs[SOURCE.index("LeftHand")].target = ""  # the user's own edit
    pairs[SOURCE.index("Neck1")].target = "Neck"
    pairs[SOURCE.index("Neck")].target = ""
    path = str(tmp_path / "mapped.blend")
    bpy.ops.wm.save_as_mainfile(filepath=path)
    bpy.ops.wm.read_homefile(use_empty=True)
    assert "DemoRig" not in bpy.data.objects
    bpy.ops.wm.open_mainfile(filepath=path)
    stored = bpy.data.objects["DemoRig"].dimgesture_bone_map
    assert stored.preset == "Same names (BVH import)"
    assert [p.source for p in stored.pairs] == SOURCE
    mapping = bm.bone_map_for(bpy.data.objects["DemoRig"], SOURCE)
    assert "LeftHand" not in mapping and "Neck" not in mapping and mapping["Neck1"] == "Neck"
    assert len(mapping) == 73


def test_stale_bone_names_raise_and_empty_maps_fill_themselves(bm, addon):
    rig_builder = importlib.import_module(f"{addon.__name__}.rig_builder")
    rig = rig_builder.build_demo_rig(bpy.context)
    assert len(rig.dimgesture_bone_map.pairs) == 0
    assert bm.bone_map_for(rig, SOURCE) == {n: n for n in SOURCE}
    assert rig.dimgesture_bone_map.preset == "Auto: Same names"
    rig.data.bones["Head"].name = "Skull"
    with pytest.raises(ValueError, match="'DemoRig' names bones it does not have: Head"):
        bm.bone_map_for(rig, SOURCE)


def test_draw_bone_map_lists_the_pairs(bm, addon):
    rig_builder = importlib.import_module(f"{addon.__name__}.rig_builder")
    rig = rig_builder.build_demo_rig(bpy.context)
    bm.store(rig, SOURCE, {"Hips": "Hips", "Head": "Head"}, "Custom")
    calls = []

    class Layout:
        def __getattr__(self, name):
            def record(*args, **kwargs):
                calls.append((name, args, kwargs))
                return self
            return record

    class Context:
        active_object = rig

    bm.draw_bone_map(Layout(), Context())
    names = [c[0] for c in calls]
    assert "operator_menu_enum" in names and "template_list" in names
    assert ("label", (), {"text": "2 of 75 joints mapped"}) in calls
    calls.clear()

    class NoArmature:
        active_object = None

    bm.draw_bone_map(Layout(), NoArmature())
    assert calls == [("label", (), {"text": "Select an armature to edit its bone map", "icon": "INFO"})]


def test_generated_rigify_rig_gets_its_controls_not_its_constrained_deform_bones(bm):
    """A generated Rigify rig has DEF- bones (pinned by Copy Transforms) and FK controls: only the
    controls can be keyed, so the automatic match must choose them."""
    deform = list(bm.preset_named("Rigify deform bones").mapping.values())
    controls = list(bm.preset_named("Rigify FK controls").mapping.values())
    bones = [(name, None, (0.0, 0.01 * k, 0.0), (0.0, 0.01 * k, 0.05)) for k, name in enumerate(deform + controls)]
    rig = _armature("rig", bones)
    assert bm.auto_map(SOURCE, deform + controls)[0] == "Rigify deform bones"  # by names alone
    for name in deform:
        rig.pose.bones[name].constraints.new("COPY_TRANSFORMS")
    assert bm.driven_bones(rig) == frozenset(deform)
    assert bm.fill(rig, SOURCE) == "Auto: Rigify FK controls"
    mapping = bm.bone_map_for(rig, SOURCE)
    assert mapping["LeftArm"] == "upper_arm_fk.L" and not set(mapping.values()) & set(deform)
    rig.pose.bones["DEF-spine"].constraints[0].mute = True
    assert "DEF-spine" not in bm.driven_bones(rig)
