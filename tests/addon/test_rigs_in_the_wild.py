"""Rigs in the wild under real Blender: every test convention, Blender's metarig and a Rigify rig
generated in the test follow the source's arms in world space; a rig without arms is refused
before the backend starts; bone maps travel as JSON.

World-space agreement: for each mapped arm segment (upper arm, forearm), the median over frames
of the cosine between the posed rig's segment direction and the source motion's is >= 0.9, and
the wrists travel.
"""

import importlib
import json
import sys
from pathlib import Path

import bpy
import numpy as np
import pytest

from backend.motion import quaternions as quat
from backend.motion.motion import Motion
from backend.motion.retarget import Y_UP_TO_Z_UP
from backend.motion.skeleton import default_skeleton, forward_kinematics

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import humanoid_rigs  # noqa: E402
from humanoid_rigs import FPS, FRAMES, build_armature, swinging_motion  # noqa: E402
from keying import key_motion  # noqa: E402

RIGS = humanoid_rigs.conventions()
CHECK_FRAMES = range(1, FRAMES + 1, 3)
SIDES = (("left", "Left"), ("right", "Right"))


def source_directions(motion: Motion, turn: np.ndarray) -> dict[str, np.ndarray]:
    """(frames, 3) unit world directions of the source's arm segments, Blender axes, turned like the rig."""
    skel = motion.skeleton
    pos, _ = forward_kinematics(skel, motion.rotations, motion.root_positions)
    pos = quat.rotate(Y_UP_TO_Z_UP, pos) @ turn.T
    out = {}
    for _, src in SIDES:
        for segment, (a, b) in (("upper", ("Arm", "ForeArm")), ("lower", ("ForeArm", "Hand"))):
            v = pos[:, skel.index(src + b)] - pos[:, skel.index(src + a)]
            out[f"{src} {segment}"] = v / np.linalg.norm(v, axis=-1, keepdims=True)
    return out


def world_heads(obj, bones: list[str], frames) -> np.ndarray:
    """(frames, bones, 3) world positions of the posed bones' heads."""
    out = []
    for f in frames:
        bpy.context.scene.frame_set(f)
        m = obj.matrix_world
        out.append([np.array(m @ obj.pose.bones[b].head) for b in bones])
    return np.array(out)


def arm_agreement(obj, motion: Motion, segments: dict[str, tuple[str, str, str]], turn=np.eye(3)) -> dict:
    """Per side: median cosines of upper arm and forearm against the source, and the wrist's path length
    relative to the forearm's length. ``segments``: side → (upper bone, forearm bone, hand bone)."""
    want = source_directions(motion, turn)
    frames = list(CHECK_FRAMES)
    result = {}
    for side, (upper, lower, hand) in segments.items():
        pos = world_heads(obj, [upper, lower, hand], frames)
        cos = {}
        for name, (a, b) in (("upper", (0, 1)), ("lower", (1, 2))):
            v = pos[:, b] - pos[:, a]
            v /= np.linalg.norm(v, axis=-1, keepdims=True)
            cos[name] = float(np.median(np.sum(v * want[f"{side} {name}"][[f - 1 for f in frames]], axis=-1)))
        path = float(np.linalg.norm(np.diff(pos[:, 2], axis=0), axis=-1).sum())
        forearm = float(np.linalg.norm(pos[0, 2] - pos[0, 1]))
        result[side] = (cos["upper"], cos["lower"], path / forearm)
    return result


def assert_follows(result: dict) -> None:
    for side, (upper, lower, travel) in result.items():
        assert upper >= 0.9 and lower >= 0.9, (side, upper, lower)
        assert travel > 1.0, (side, travel)  # the wrist travels more than a forearm's length


@pytest.fixture
def modules(addon):
    bpy.context.scene.render.fps, bpy.context.scene.render.fps_base = FPS, 1.0
    return (importlib.import_module(f"{addon.__name__}.bone_map"), addon.__name__,
            importlib.import_module(f"{addon.__name__}.humanoid_map"))


@pytest.mark.parametrize("rig", RIGS, ids=[r.name for r in RIGS])
def test_every_convention_follows_the_arms(modules, rig):
    bm, package, humanoid_map = modules
    obj = build_armature(bpy, rig)
    skel = default_skeleton()
    assert humanoid_map.arm_chain_problem(obj, bm.current_map(obj, skel)) is None
    used = bm.fill(obj, skel)
    mapping = bm.bone_map_for(obj, skel)
    for side, src in SIDES:  # the arms went where the convention puts them
        assert mapping[f"{src}Arm"] == rig.roles[f"{side} upper"], used
        assert mapping[f"{src}ForeArm"] == rig.roles[f"{side} lower"]
        assert mapping[f"{src}Hand"] == rig.roles[f"{side} hand"]
    motion = swinging_motion()
    key_motion(package, bpy.context, obj, motion, 1, mapping)
    turn = rig.object_matrix()[:3, :3] / rig.object_scale if rig.turn_world else np.eye(3)
    segments = {src: tuple(rig.roles[f"{side} {p}"] for p in ("upper", "lower", "hand")) for side, src in SIDES}
    assert_follows(arm_agreement(obj, motion, segments, turn))


@pytest.fixture(scope="session")
def rigify_file(extension, tmp_path_factory) -> Path:
    """A .blend with Blender's human metarig and the rig Rigify generates from it (done once: it is slow)."""
    bpy.ops.wm.read_homefile(use_empty=True, use_factory_startup=True)
    bpy.ops.preferences.addon_enable(module="rigify")
    bpy.ops.object.armature_human_metarig_add()
    meta = bpy.context.active_object
    meta.name = "metarig"
    bpy.ops.pose.rigify_generate()
    path = tmp_path_factory.mktemp("rigify") / "rigify.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(path))
    return path


def test_rigify_arms_in_fk_legs_planted_and_metarig(modules, rigify_file):
    bm, package, humanoid_map = modules
    bpy.ops.wm.open_mainfile(filepath=str(rigify_file))
    bpy.context.scene.render.fps, bpy.context.scene.render.fps_base = FPS, 1.0
    rig = next(o for o in bpy.data.objects if o.type == "ARMATURE" and o.name != "metarig")
    assert rig.pose.bones["upper_arm_parent.L"]["IK_FK"] == 0.0  # Rigify starts in IK
    skel = default_skeleton()
    assert humanoid_map.arm_chain_problem(rig, bm.current_map(rig, skel)) is None
    assert bm.fill(rig, skel) == "Auto: Rigify FK controls"
    mapping = bm.bone_map_for(rig, skel)
    motion = swinging_motion()
    feet_before = world_heads(rig, ["DEF-foot.L", "DEF-foot.R"], [1])[0]
    key_motion(package, bpy.context, rig, motion, 1, mapping, root_motion=False)
    curves = {fc.data_path: fc for fc in importlib.import_module(f"{bm.__package__}.compat").action_fcurves(
        rig.animation_data.action, rig)}
    for side in "LR":  # the switches are keys of the gesture action: undone with it, seen in the timeline
        assert curves[f'pose.bones["upper_arm_parent.{side}"]["IK_FK"]'].evaluate(1) == 1.0
        assert curves[f'pose.bones["thigh_parent.{side}"]["IK_FK"]'].evaluate(1) == 0.0
    segments = {src: (f"DEF-upper_arm.{s}", f"DEF-forearm.{s}", f"DEF-hand.{s}") for s, src in (("L", "Left"), ("R", "Right"))}
    assert_follows(arm_agreement(rig, motion, segments))
    feet = world_heads(rig, ["DEF-foot.L", "DEF-foot.R"], CHECK_FRAMES)
    assert np.abs(feet - feet_before).max() < 1e-3  # legs stay in IK: the feet stay planted
    key_motion(package, bpy.context, rig, motion, 1, mapping, root_motion=True)
    compat = importlib.import_module(f"{bm.__package__}.compat")
    curves = {fc.data_path: fc for fc in compat.action_fcurves(rig.animation_data.action, rig)}
    assert curves['pose.bones["thigh_parent.L"]["IK_FK"]'].evaluate(1) == 1.0  # root motion: the FK legs carry it

    meta = bpy.data.objects["metarig"]
    bpy.context.view_layer.objects.active = meta
    assert bm.fill(meta, skel) == "Auto: Blender human metarig"
    key_motion(package, bpy.context, meta, motion, 1, bm.bone_map_for(meta, skel))
    segments = {src: (f"upper_arm.{s}", f"forearm.{s}", f"hand.{s}") for s, src in (("L", "Left"), ("R", "Right"))}
    assert_follows(arm_agreement(meta, motion, segments))


def test_rig_without_arms_is_refused_before_the_backend_starts(addon):
    client = importlib.import_module(f"{addon.__name__}.client")
    client.shutdown_backend()
    rig = humanoid_rigs.by_name("Minimal")
    rig.bones = [b for b in rig.bones if not b[0].startswith(("arm_", "forearm_", "hand_"))]
    obj = build_armature(bpy, rig)
    settings = bpy.context.scene.dimgesture  # speech that exists, so the rig is the only problem
    settings.audio_source = "FILE"
    settings.audio_file = str(Path(__file__).resolve().parents[2] / "assets" / "demo_speech.wav")
    with pytest.raises(RuntimeError, match=r"cannot reach the left arm and right arm of 'Minimal'.*LeftArm, "
                                           r"LeftForeArm, LeftHand.*Bone map"):
        bpy.ops.dimgesture.generate("EXEC_DEFAULT", True)
    assert client.current_backend() is None
    assert len(obj.dimgesture_bone_map.pairs) == 0  # the refused rig is left as it was
    assert not bpy.data.actions


def test_bone_map_export_import_round_trip(modules, tmp_path):
    bm, _, _ = modules
    obj = build_armature(bpy, humanoid_rigs.by_name("GENEA"))
    skel = default_skeleton()
    assert bm.fill(obj, skel) == "Auto: Bone structure"
    obj.dimgesture_bone_map.pairs[skel.index("Head")].target = "b_neck0"  # a user's edit
    obj.dimgesture_bone_map.pairs[skel.index("Neck")].target = ""
    before = bm.bone_map_for(obj, skel)
    path = tmp_path / "genea map.json"
    assert bpy.ops.dimgesture.bone_map_export(filepath=str(path)) == {"FINISHED"}
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["map"] == before and data["name"] == "GENEA bone map"
    bm.store(obj, skel.names, {}, "")
    assert bpy.ops.dimgesture.bone_map_import(filepath=str(path)) == {"FINISHED"}
    assert bm.bone_map_for(obj, skel) == before
    assert obj.dimgesture_bone_map.preset == "Imported: genea map.json"
    assert bm.load_preset(path).mapping == before  # the exported file is a valid preset as is
    other = build_armature(bpy, humanoid_rigs.by_name("Minimal"))
    bpy.context.view_layer.objects.active = other
    with pytest.raises(RuntimeError, match="No bone named in .*genea map.json exists in 'Minimal'"):
        bpy.ops.dimgesture.bone_map_import(filepath=str(path))


def test_structure_wins_where_presets_match_only_a_few_names(modules):
    """A Quaternius character shares Hips/Neck/Head with the same-name map; structure reaches all of it."""
    bm, _, _ = modules
    obj = build_armature(bpy, humanoid_rigs.by_name("Quaternius"))
    assert bm.fill(obj, default_skeleton()) == "Auto: Bone structure"
    mapping = bm.bone_map_for(obj, default_skeleton())
    assert mapping["Spine3"] == "Chest" and mapping["LeftUpLeg"] == "UpperLeg.L" and mapping["LeftHandIndex1"] == "Index1.L"
    assert len(mapping) == 50


def test_generate_end_to_end_on_a_rig_no_preset_knows(addon, extension, tiny_checkpoint, tmp_path):
    """Speech → the real backend → keys on a GENEA-named rig (only its structure maps it): the arms
    follow the motion the model generated, and the report says what stayed still."""
    import soundfile

    wave, rate = soundfile.read(Path(__file__).resolve().parents[2] / "assets" / "demo_speech.wav", dtype="float32")
    clip = tmp_path / "speech.wav"
    soundfile.write(clip, wave[int(0.5 * rate):int(2.5 * rate)], rate)
    prefs = bpy.context.preferences.addons[extension].preferences
    prefs.checkpoint_dir, prefs.device, prefs.python_path = str(tiny_checkpoint), "CPU", ""
    try:
        bpy.context.scene.render.fps, bpy.context.scene.render.fps_base = FPS, 1.0
        rig = humanoid_rigs.by_name("GENEA")
        rig.bones = [b for b in rig.bones if not b[0].startswith(("b_l_upleg", "b_r_upleg")) and "leg" not in b[0]
                     and "foot" not in b[0] and "toe" not in b[0]]  # no legs: a partial map
        obj = build_armature(bpy, rig)
        settings = bpy.context.scene.dimgesture
        settings.audio_source, settings.audio_file, settings.start_frame, settings.steps = "FILE", str(clip), 1, 2
        saved = tmp_path / "motion.npz"
        assert bpy.ops.dimgesture.generate("EXEC_DEFAULT", True, motion_output=str(saved)) == {"FINISHED"}
        status = bpy.context.window_manager.dimgesture_state.status
        assert "keyed on 'GENEA'" in status and "stay still: legs" in status
        assert obj.dimgesture_bone_map.preset == "Auto: Bone structure"
        motion = Motion.load_npz(saved)
        segments = {src: tuple(rig.roles[f"{side} {p}"] for p in ("upper", "lower", "hand")) for side, src in SIDES}
        for side, (upper, lower, _) in arm_agreement(obj, motion, segments).items():
            assert upper >= 0.9 and lower >= 0.9, (side, upper, lower)
    finally:
        prefs.checkpoint_dir, prefs.device = "", "AUTO"


def _fixture(name: str) -> Path | None:
    for root in (Path(__file__).resolve().parents[3] / "shared", Path("/work/shared")):
        if (root / "fixtures" / name).is_file():
            return root / "fixtures" / name
    return None


def test_real_cmu_bvh_import_is_characterised_and_follows(modules):
    """A real CMU motion-capture file imported with Blender's BVH importer: its arms are found and follow."""
    path = _fixture("cmu_01_example.bvh")
    if path is None:
        pytest.skip("shared fixtures (cmu_01_example.bvh) not available")
    bm, package, humanoid_map = modules
    bpy.ops.import_anim.bvh(filepath=str(path))
    obj = bpy.context.active_object
    obj.animation_data_clear()
    chains = humanoid_map.armature_humanoid(obj).chains()
    assert chains["left arm"] == ["LeftShoulder", "LeftArm", "LeftForeArm", "LeftHand"]
    assert chains["right leg"][:3] == ["RightUpLeg", "RightLeg", "RightFoot"]
    skel = default_skeleton()
    mapping = humanoid_map.structural_map(obj, skel)
    motion = swinging_motion()
    key_motion(package, bpy.context, obj, motion, 1, mapping)
    segments = {src: (f"{src}Arm", f"{src}ForeArm", f"{src}Hand") for _, src in SIDES}
    assert_follows(arm_agreement(obj, motion, segments))


def test_panel_says_what_moves_and_what_stays_still(modules):
    bm, _, _ = modules
    calls = []

    class Layout:
        def __getattr__(self, name):
            def record(*args, **kwargs):
                calls.append((name, kwargs.get("text")))
                return self
            return record

    bm.draw_coverage(Layout(), {"LeftArm": "a", "LeftForeArm": "b", "LeftHand": "c", "Hips": "h"})
    texts = [t for _, t in calls if t]
    assert "Arms: 3 of 8 joints move" in texts and "Spine: 1 of 5 joints move" in texts
    assert "Legs: stay still (no bone mapped)" in texts and "Fingers: stay still (no bone mapped)" in texts
    assert "No right arm: Generate will refuse. Map them below." in texts
