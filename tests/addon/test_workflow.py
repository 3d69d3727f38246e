"""The animator's workflow under real Blender: body-part masks, NLA layers, intensity, takes, key reduction, whole scenes.

Driven like test_operator.py: the Generate operator, a real backend process, a tiny random checkpoint.
"""

import importlib

import bpy
import numpy as np
import pytest

from backend.motion import quaternions as quat
from backend.motion.intensity import idle_pose

from test_operator import STRIP_START, clip, compat, expected_keys, generate, scene  # noqa: F401  (fixtures)

TOLERANCE = 1.0  # degrees
LEGS = ("Hips", "LeftUpLeg", "LeftLeg", "RightUpLeg", "RightLeg", "LeftFoot")


def key_user_legs(rig):
    """The user's own animation: a leg swing keyed in an action of theirs, and a constraint on the left shin."""
    for frame, angle in ((90, 0.0), (120, 0.4), (160, -0.3)):
        for name in ("LeftUpLeg", "RightUpLeg"):
            bone = rig.pose.bones[name]
            bone.rotation_mode = "XYZ"
            bone.rotation_euler = (angle, 0.0, 0.0)
            bone.keyframe_insert("rotation_euler", frame=frame)
    constraint = rig.pose.bones["LeftLeg"].constraints.new("LIMIT_ROTATION")
    constraint.use_limit_x, constraint.max_x, constraint.influence = True, 0.2, 0.7
    action = rig.animation_data.action
    action.name = "User walk"
    return action


def curve_data(addon, action, rig) -> dict:
    """{(data_path, index): (frames, values)} of ``action``'s curves for ``rig``."""
    out = {}
    for fc in compat(addon).action_fcurves(action, rig):
        co = np.empty(2 * len(fc.keyframe_points))
        fc.keyframe_points.foreach_get("co", co)
        out[(fc.data_path, fc.array_index)] = (co[0::2].copy(), co[1::2].copy())
    return out


def bone_quaternions(addon, action, rig) -> dict[str, np.ndarray]:
    """Each keyed bone's quaternion keys (T, 4)."""
    data = curve_data(addon, action, rig)
    bones = sorted({p.split('"')[1] for p, _ in data if p.endswith("rotation_quaternion")})
    return {b: np.stack([data[(f'pose.bones["{b}"].rotation_quaternion', i)][1] for i in range(4)], -1) for b in bones}


def world_matrices(rig, names, frame) -> np.ndarray:
    bpy.context.scene.frame_set(frame)
    return np.array([np.array(rig.matrix_world @ rig.pose.bones[n].matrix) for n in names])


def test_upper_body_mask_leaves_the_legs_their_keys_and_constraint(addon, scene):
    user = key_user_legs(scene)
    before_user, before_legs = curve_data(addon, user, scene), world_matrices(scene, LEGS, 130)
    bpy.context.scene.dimgesture.body_parts = "UPPER"
    assert generate() == {"FINISHED"}
    action = scene.animation_data.action
    assert action != user and action.name.startswith("Speech")
    after = curve_data(addon, action, scene)
    keyed = {p.split('"')[1] for p, _ in after}
    assert {"Spine", "Neck", "Head", "LeftArm", "RightHand", "LeftHandIndex1"} <= keyed
    assert not keyed & {"Hips", "LeftLeg", "RightFoot"}  # the gestures drive no leg
    for key, (frames, values) in before_user.items():  # the legs keep their keys, in the new action too
        np.testing.assert_array_equal(after[key][0], frames)
        np.testing.assert_array_equal(after[key][1], values)
    for key, (frames, values) in before_user.items():  # and the user's own action is untouched (stashed)
        np.testing.assert_array_equal(curve_data(addon, user, scene)[key][1], values)
    assert user in [s.action for t in scene.animation_data.nla_tracks for s in t.strips]
    constraint = scene.pose.bones["LeftLeg"].constraints[0]
    assert constraint.type == "LIMIT_ROTATION" and constraint.max_x == pytest.approx(0.2) and constraint.influence == pytest.approx(0.7)
    np.testing.assert_allclose(world_matrices(scene, LEGS, 130), before_legs, atol=1e-6)
    assert np.abs(world_matrices(scene, ["LeftHand"], 130) - world_matrices(scene, ["LeftHand"], 150)).max() > 1e-4


def test_head_mask_without_fingers_keys_only_the_head(addon, scene):
    settings = bpy.context.scene.dimgesture
    settings.body_parts, settings.use_fingers = "HEAD", False
    assert generate() == {"FINISHED"}
    keyed = {p.split('"')[1] for p, _ in curve_data(addon, scene.animation_data.action, scene)}
    assert keyed and keyed <= {"Neck", "Neck1", "Head", "HeadEnd"}


def configure_nla(influence=0.5):
    settings = bpy.context.scene.dimgesture
    settings.output, settings.blend_type, settings.influence = "NLA", "REPLACE", influence
    settings.blend_in, settings.blend_out = 0.2, 0.4


def test_nla_layer_above_the_untouched_animation(addon, scene):
    user = key_user_legs(scene)
    before_user = curve_data(addon, user, scene)
    anim = scene.animation_data
    old = anim.nla_tracks.new()
    old.name, old.mute = "User layer", True
    old.strips.new("User walk", 10, user)
    configure_nla()
    assert generate() == {"FINISHED"}
    tracks = list(anim.nla_tracks)
    assert [t.name for t in tracks[:2]] == ["User layer", "User walk"]  # the user's track, then the pushed-down action
    assert tracks[0].mute and [s.frame_start for s in tracks[0].strips] == [10]
    assert tracks[1].strips[0].action == user and anim.action is None
    layer = tracks[-1]
    assert len(tracks) == 3 and layer.name.startswith("Speech") and len(layer.strips) == 1
    strip = layer.strips[0]
    n = expected_keys()
    assert (strip.frame_start, strip.frame_end) == (STRIP_START, STRIP_START + n - 1)
    assert strip.blend_type == "REPLACE" and strip.extrapolation == "NOTHING"
    assert (strip.blend_in, strip.blend_out) == pytest.approx((0.2 * 25, 0.4 * 25))
    assert strip.use_animated_influence
    for frame, expected in ((STRIP_START, 0.0), (STRIP_START + 5, 0.5), (STRIP_START + 30, 0.5),
                            (STRIP_START + n - 1 - 10, 0.5), (STRIP_START + n - 1, 0.0), (STRIP_START + 2.5, 0.25)):
        assert strip.fcurves.find("influence").evaluate(frame) == pytest.approx(expected, abs=1e-5)
    for key, (frames, values) in before_user.items():
        np.testing.assert_array_equal(curve_data(addon, user, scene)[key][0], frames)
        np.testing.assert_array_equal(curve_data(addon, user, scene)[key][1], values)
    # Full influence: Blender's own blend in/out, no influence curve.
    bpy.ops.ed.undo_push(message="layered")
    configure_nla(influence=1.0)
    assert generate() == {"FINISHED"}
    assert not anim.nla_tracks[-1].strips[0].use_animated_influence


def test_one_undo_removes_the_nla_layer(addon, scene):
    user = key_user_legs(scene).name
    configure_nla()
    bpy.ops.ed.undo_push(message="before generate")
    assert generate() == {"FINISHED"}
    assert len(bpy.data.objects["Rig"].animation_data.nla_tracks) == 2
    bpy.ops.ed.undo()
    rig = bpy.data.objects["Rig"]
    assert len(rig.animation_data.nla_tracks) == 0 and rig.animation_data.action.name == user
    assert sorted(a.name for a in bpy.data.actions) == ["User walk"]


def test_intensity_zero_is_the_idle_pose_and_two_doubles_the_offsets(addon, scene):
    settings = bpy.context.scene.dimgesture
    runs = {}
    for intensity in (1.0, 2.0, 0.0):
        settings.intensity = intensity
        assert generate() == {"FINISHED"}
        runs[intensity] = bone_quaternions(addon, scene.animation_data.action, scene)
    # Intensity 0 holds one pose: Blender evaluates the same pose on every frame.
    np.testing.assert_allclose(world_matrices(scene, ["LeftHand", "Head"], STRIP_START + 5),
                               world_matrices(scene, ["LeftHand", "Head"], STRIP_START + 50), atol=1e-5)
    for bone, q in runs[1.0].items():
        idle = idle_pose(q)
        np.testing.assert_allclose(quat.angle_between(runs[0.0][bone], idle[None]), 0.0, atol=1e-5)
        offset = quat.angle_between(idle[None], q)
        small = offset < np.pi / 2 - 0.05  # doubled, these stay on the short arc and are measurable
        assert small.sum() > 10  # (the tiny random model swings far: only part of its frames are near the idle pose)
        np.testing.assert_allclose(quat.angle_between(idle[None], runs[2.0][bone])[small], 2 * offset[small], atol=2e-4)


def test_takes_give_distinct_actions_and_one_can_be_made_active(addon, scene):
    settings = bpy.context.scene.dimgesture
    settings.takes, settings.seed = 3, 4
    assert generate() == {"FINISHED"}
    takes = scene.dimgesture_takes
    assert [t.seed for t in takes] == [4, 5, 6] and [t.action.name for t in takes] == [f"Speech seed {s}" for s in (4, 5, 6)]
    keys = [bone_quaternions(addon, t.action, scene)["LeftArm"] for t in takes]
    assert all(np.abs(keys[i] - keys[j]).max() > 1e-3 for i in range(3) for j in range(i))
    assert scene.animation_data.action == takes[0].action
    assert bpy.ops.dimgesture.use_take(index=2) == {"FINISHED"}
    assert scene.animation_data.action == takes[2].action and scene.dimgesture_take_index == 2
    # As NLA layers: one track per take, only the active one heard.
    settings.output, settings.takes = "NLA", 2
    assert generate() == {"FINISHED"}
    tracks = scene.animation_data.nla_tracks
    layer_of = {t.seed: tracks[t.track] for t in scene.dimgesture_takes}
    assert [layer_of[4].mute, layer_of[5].mute] == [False, True]
    assert bpy.ops.dimgesture.use_take(index=1) == {"FINISHED"}
    assert [layer_of[4].mute, layer_of[5].mute] == [True, False]


def test_reduced_keys_stay_within_tolerance_at_every_frame(addon, scene):
    settings = bpy.context.scene.dimgesture
    settings.smoothing = 0.5  # the tiny random model jitters; a trained one moves smoothly
    assert generate() == {"FINISHED"}
    full = bone_quaternions(addon, scene.animation_data.action, scene)
    settings.reduce_keys, settings.key_tolerance = True, TOLERANCE
    assert generate() == {"FINISHED"}
    action = scene.animation_data.action
    status = bpy.context.window_manager.dimgesture_state.status
    n = expected_keys()
    data = curve_data(addon, action, scene)
    assert sum(len(f) for f, _ in data.values()) < 0.5 * len(data) * n
    assert f"keys reduced from {len(data) * n} to {sum(len(f) for f, _ in data.values())}" in status
    for frames, _ in data.values():  # the clip still starts and ends where the sound does
        assert frames[0] == STRIP_START and frames[-1] == STRIP_START + n - 1
    for bone, q in bone_quaternions(addon, action, scene).items():
        assert np.all(np.sum(q[1:] * q[:-1], axis=-1) > 0)  # kept keys stay on one hemisphere in turn
    worst = 0.0
    for frame in range(STRIP_START, STRIP_START + n):
        bpy.context.scene.frame_set(frame)
        evaluated = np.array([scene.pose.bones[b].rotation_quaternion for b in full])
        worst = max(worst, np.degrees(quat.angle_between(evaluated, np.array([full[b][frame - STRIP_START] for b in full]))).max())
    assert worst <= TOLERANCE + 1e-3


def test_whole_scene_keys_every_strip_on_its_armature(addon, scene, clip, tmp_path):
    other = add_second_speaker(addon, clip)
    pairs = bpy.context.scene.dimgesture_pairs
    for strip, rig in (("Speech", scene), ("Reply", other)):
        pair = pairs.add()
        pair.strip, pair.armature = strip, rig
    assert bpy.ops.dimgesture.generate("EXEC_DEFAULT", True, whole_scene=True) == {"FINISHED"}
    for rig, start, name in ((scene, STRIP_START, "Speech"), (other, 240, "Reply")):
        action = rig.animation_data.action
        assert action.name.startswith(name)
        frames = next(iter(curve_data(addon, action, rig).values()))[0]
        assert frames[0] == start and len(frames) == expected_keys()
    status = bpy.context.window_manager.dimgesture_state.status
    assert "keyed on 'Rig' from frame 100" in status and "keyed on 'Rig2' from frame 240" in status
    path = tmp_path / "dialogue.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(path))
    bpy.ops.wm.open_mainfile(filepath=str(path))
    assert [(p.strip, p.armature.name) for p in bpy.context.scene.dimgesture_pairs] == [("Speech", "Rig"), ("Reply", "Rig2")]
    bpy.context.scene.dimgesture_pairs[1].strip = "Nobody"
    with pytest.raises(RuntimeError, match="names the sound strip 'Nobody'"):
        bpy.ops.dimgesture.generate("EXEC_DEFAULT", True, whole_scene=True)


def test_whole_scene_refuses_a_clip_over_the_limit_and_an_armless_rig_before_any_backend(addon, extension, scene,
                                                                                           tmp_path):
    import soundfile

    client = importlib.import_module(f"{addon.__name__}.client")
    client.shutdown_backend()
    long_clip = tmp_path / "long.wav"
    soundfile.write(long_clip, np.full(16000 * 8, 0.1, dtype=np.float32), 16000)  # 8 s
    compat(addon).sequencer_strips(bpy.context.scene).new_sound("Long", str(long_clip), channel=2, frame_start=1)
    pair = bpy.context.scene.dimgesture_pairs.add()
    pair.strip, pair.armature = "Long", scene
    prefs = bpy.context.preferences.addons[extension].preferences
    prefs.max_clip_minutes = 0.1  # 6 s, the preference's smallest value
    try:
        with pytest.raises(RuntimeError, match="Longest clip"):
            bpy.ops.dimgesture.generate("EXEC_DEFAULT", True, whole_scene=True)
    finally:
        prefs.max_clip_minutes = 10.0
    armless = bpy.data.objects.new("Crate", bpy.data.armatures.new("Crate"))
    bpy.context.scene.collection.objects.link(armless)
    pair.armature = armless
    with pytest.raises(RuntimeError, match="'Crate'"):
        bpy.ops.dimgesture.generate("EXEC_DEFAULT", True, whole_scene=True)
    assert client.current_backend() is None and scene.animation_data is None


def test_batch_example_flags_set_the_workflow(addon, scene, clip, tmp_path, monkeypatch):
    import runpy
    import sys
    from pathlib import Path

    out = tmp_path / "layered.blend"
    argv = ["blender", "-b", "--python", "blender_batch_example.py", "--", "--audio", str(clip), "--armature", "Rig",
            "--body-parts", "ARMS", "--nla", "--blend-type", "REPLACE", "--influence", "0.5", "--takes", "2",
            "--reduce-keys", "2", "-o", str(out)]
    monkeypatch.setattr(sys, "argv", argv)
    runpy.run_path(str(Path(__file__).resolve().parents[2] / "scripts" / "blender_batch_example.py"), run_name="__main__")
    rig = bpy.data.objects["Rig"]
    tracks = rig.animation_data.nla_tracks
    assert out.is_file() and len(tracks) == 2 and {t.strips[0].blend_type for t in tracks} == {"REPLACE"}
    keyed = {p.split('"')[1] for p, _ in curve_data(addon, tracks[0].strips[0].action, rig)}
    assert "LeftForeArm" in keyed and "Head" not in keyed and "Spine" not in keyed
    assert "keys reduced from" in bpy.context.window_manager.dimgesture_state.status


def add_second_speaker(addon, clip):
    rig_builder = __import__(f"{addon.__name__}.rig_builder", fromlist=["build_demo_rig"])
    other = rig_builder.build_demo_rig(bpy.context, "Rig2")
    compat(addon).sequencer_strips(bpy.context.scene).new_sound("Reply", str(clip), channel=2, frame_start=240)
    return other


def test_pairs_are_added_from_the_panel_and_removed(addon, scene, clip):
    add_second_speaker(addon, clip)
    bpy.context.view_layer.objects.active = scene
    assert bpy.ops.dimgesture.pair_add() == {"FINISHED"}
    assert bpy.ops.dimgesture.pair_add() == {"FINISHED"}  # the panel's strip is taken: the next unpaired one
    pairs = bpy.context.scene.dimgesture_pairs
    assert [(p.strip, p.armature.name) for p in pairs] == [("Speech", "Rig"), ("Reply", "Rig")]
    bpy.context.scene.dimgesture_pair_index = 0
    assert bpy.ops.dimgesture.pair_remove() == {"FINISHED"}
    assert [p.strip for p in pairs] == ["Reply"]


def test_cancel_between_two_speakers_changes_nothing(addon, scene, clip):
    import threading
    import time

    other = add_second_speaker(addon, clip)
    for strip, rig in (("Speech", scene), ("Reply", other)):
        pair = bpy.context.scene.dimgesture_pairs.add()
        pair.strip, pair.armature = strip, rig
    bpy.context.scene.dimgesture.steps, bpy.context.scene.dimgesture.sampler = 200, "DDPM"
    operators = addon.operators

    def cancel_in_the_second_request():
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            job = operators.active_job()
            if job is not None and job.index == 1 and job.step >= 1:
                operators.request_cancel()
                return
            time.sleep(0.005)

    watcher = threading.Thread(target=cancel_in_the_second_request, daemon=True)
    watcher.start()
    assert bpy.ops.dimgesture.generate("EXEC_DEFAULT", True, whole_scene=True) == {"CANCELLED"}
    watcher.join(timeout=5)
    assert not bpy.data.actions and scene.animation_data is None and other.animation_data is None
    assert "Cancelled" in bpy.context.window_manager.dimgesture_state.status


def test_generate_is_unavailable_while_the_backend_installs_and_says_why(addon, scene):
    state = bpy.context.window_manager.dimgesture_state
    state.running = True
    try:
        assert not bpy.ops.dimgesture.generate.poll()
        with pytest.raises(RuntimeError, match="The backend is being installed"):
            bpy.ops.dimgesture.generate()
    finally:
        state.running = False


def test_cli_command_takes_the_same_flags(addon, scene, clip, tmp_path, capsys):
    source, out = tmp_path / "in.blend", tmp_path / "out.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(source))
    base = ["generate", "--blend", str(source), "--audio", str(clip), "--armature", "Rig", "-o", str(out)]
    assert addon.cli_command.run(base + ["--intensity", "3"]) == 1
    assert "--intensity must be between 0 and 2, got 3" in capsys.readouterr().err and not out.exists()
    assert addon.cli_command.run(base + ["--body-parts", "HEAD", "--nla", "--intensity", "0.5"]) == 0
    bpy.ops.wm.open_mainfile(filepath=str(out))
    rig = bpy.data.objects["Rig"]
    strip = rig.animation_data.nla_tracks[-1].strips[0]
    keyed = {p.split('"')[1] for p, _ in curve_data(addon, strip.action, rig)}
    assert keyed and keyed <= {"Neck", "Neck1", "Head", "HeadEnd"} and bpy.context.scene.dimgesture.intensity == 0.5
