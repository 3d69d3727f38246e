"""End to end under real Blender: sound strip → Generate operator → real backend process → keys on a rig.

A tiny random checkpoint (``tiny_checkpoint`` in conftest) stands in for a trained model: the checks are about
timing, placement, undo, cancel and crashes, not about gesture quality.
"""

import importlib
import os
import runpy
import signal
import sys
import tempfile
from pathlib import Path

import bpy
import numpy as np
import pytest
import soundfile
from backend.motion.motion import Motion
from watcher import watching

REPO_ROOT = Path(__file__).resolve().parents[2]
CLIP_SECONDS = 3.0
MODEL_FPS = 20.0
SCENE_FPS = 25
STRIP_START = 100


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    """3 s of the bundled speech (from 0.5 s, where the voice starts)."""
    wave, rate = soundfile.read(REPO_ROOT / "assets" / "demo_speech.wav", dtype="float32")
    path = tmp_path_factory.mktemp("audio") / "hello clip.wav"
    soundfile.write(path, wave[int(0.5 * rate):int((0.5 + CLIP_SECONDS) * rate)], rate)
    return path


@pytest.fixture
def scene(addon, extension, tiny_checkpoint, clip):
    """An empty scene at 25 fps with the demo rig (active) and the clip as a sound strip at frame 100."""
    prefs = bpy.context.preferences.addons[extension].preferences
    prefs.checkpoint_dir, prefs.device, prefs.python_path = str(tiny_checkpoint), "CPU", ""
    context = bpy.context
    context.scene.render.fps, context.scene.render.fps_base = SCENE_FPS, 1.0
    rig_builder = importlib.import_module(f"{addon.__name__}.rig_builder")
    rig = rig_builder.build_demo_rig(context, "Rig")
    context.scene.sequence_editor_create()
    strips = compat(addon).sequencer_strips(context.scene)
    strip = strips.new_sound("Speech", str(clip), channel=1, frame_start=STRIP_START)
    settings = context.scene.dimgesture
    settings.strip_name, settings.steps, settings.seed = strip.name, 2, 1
    yield rig
    # fetched again: a test may disable and re-enable the extension, which frees the preferences read above
    prefs = bpy.context.preferences.addons[extension].preferences
    prefs.checkpoint_dir, prefs.device = "", "AUTO"


def generate():
    """The operator as the UI would run it, pushing its own undo step (headless: synchronous)."""
    return bpy.ops.dimgesture.generate("EXEC_DEFAULT", True)


def expected_keys() -> int:
    model_frames = round(CLIP_SECONDS * MODEL_FPS)
    return int(np.floor((model_frames - 1) * SCENE_FPS / MODEL_FPS + 1e-9)) + 1


def compat(addon):
    """The add-on's version shims (sequencer strips, action F-curves)."""
    return importlib.import_module(f"{addon.__name__}.compat")


def fcurves(addon, rig):
    return compat(addon).action_fcurves(rig.animation_data.action, rig)


def pose(rig, frame: int) -> np.ndarray:
    bpy.context.scene.frame_set(frame)
    return np.array([np.array(rig.matrix_world @ b.matrix) for b in rig.pose.bones])


def snapshot(rig) -> tuple:
    return (sorted(a.name for a in bpy.data.actions), rig.animation_data is not None and rig.animation_data.action is not None,
            pose(rig, STRIP_START + 20).round(6).tobytes())


def denoising_job(addon):
    """The running job once it has reported its first denoising step (None before that)."""
    job = addon.operators.active_job()
    return job if job is not None and job.step >= 1 else None


def test_generate_keys_the_clip_from_the_strip_start_at_scene_fps(addon, scene):
    rest = pose(scene, STRIP_START)
    assert generate() == {"FINISHED"}
    action = scene.animation_data.action
    assert action.name.startswith("Speech")
    curves = fcurves(addon, scene)
    assert len(curves) >= 4 * 20  # quaternion channels of many bones
    n = expected_keys()
    for fc in curves:
        frames = np.array([k.co[0] for k in fc.keyframe_points])
        assert len(frames) == n and frames[0] == STRIP_START
        np.testing.assert_array_equal(np.diff(frames), 1.0)
    # The keys cover the strip: the last one falls within one model frame of the strip's last frame.
    strip = bpy.context.scene.sequence_editor.strips["Speech"]
    assert strip.frame_final_end - 1 - SCENE_FPS / MODEL_FPS <= STRIP_START + n - 1 <= strip.frame_final_end - 1
    first, later = pose(scene, STRIP_START), pose(scene, STRIP_START + 30)
    assert np.abs(first - rest).max() > 1e-3 and np.abs(later - first).max() > 1e-3  # the pose is driven and moves
    state = bpy.context.window_manager.dimgesture_state
    assert not state.running and "keyed on 'Rig' from frame 100" in state.status


def test_the_backend_resamples_to_the_scene_fps_and_the_bone_map_is_chosen_once(addon, scene, tmp_path, monkeypatch):
    """The request carries the scene's frame rate (the saved motion is at 25 fps, not the model's 20), and the
    rig's automatic bone map is matched once per Generate, then stored so the panel shows what was keyed."""
    bone_map = importlib.import_module(f"{addon.__name__}.bone_map")
    matched = []
    compute = bone_map.compute
    monkeypatch.setattr(bone_map, "compute", lambda obj, *args, **kw: matched.append(obj.name) or compute(obj, *args, **kw))
    assert len(scene.dimgesture_bone_map.pairs) == 0
    out = tmp_path / "motion.npz"
    assert bpy.ops.dimgesture.generate("EXEC_DEFAULT", True, motion_output=str(out)) == {"FINISHED"}
    assert matched == ["Rig"]
    motion = Motion.load_npz(out)
    assert motion.fps == SCENE_FPS and motion.num_frames == expected_keys()
    stored = {p.source: p.target for p in scene.dimgesture_bone_map.pairs if p.target}
    assert stored == compute(scene, motion.skeleton)[1] and len(stored) > 20


def test_the_request_carries_guidance_style_strength_fps_and_device(addon, scene, monkeypatch):
    """What the add-on decides goes to the backend in the request (which resamples and guides; the pipeline's
    own tests cover what guidance does): Guidance and Style strength 0 leave the checkpoint's defaults,
    2.5 and 1.5 are sent as such."""
    sent = []
    send = addon.client.BackendProcess.send
    monkeypatch.setattr(addon.client.BackendProcess, "send",
                        lambda self, kind, **fields: sent.append((kind, fields)) or send(self, kind, **fields))
    settings = bpy.context.scene.dimgesture
    for guidance, strength in ((0.0, 0.0), (2.5, 1.5)):
        settings.guidance, settings.style_strength = guidance, strength
        settings.style_file = str(addon.preferences.EXTENSION_ROOT / "assets" / "demo_speech.wav") if strength else ""
        assert generate() == {"FINISHED"}
    (kind0, default), (kind1, guided) = sent
    assert kind0 == kind1 == "generate"
    assert default["guidance_scale"] is None and guided["guidance_scale"] == 2.5
    assert default["style_scale"] is None and guided["style_scale"] == 1.5
    assert default["style_audio"] is None and guided["style_audio"].endswith("demo_speech.wav")
    assert default["fps"] == guided["fps"] == SCENE_FPS and default["device"] == "cpu"


def test_one_undo_restores_the_scene(addon, scene):
    bpy.ops.ed.undo_push(message="before generate")
    before = snapshot(scene)
    assert generate() == {"FINISHED"}
    assert snapshot(scene) != before
    bpy.ops.ed.undo()
    rig = bpy.data.objects["Rig"]
    assert snapshot(rig) == before


def test_previous_action_is_kept_in_the_nla_and_the_backend_stays_warm(addon, scene):
    assert generate() == {"FINISHED"}
    first, pid = scene.animation_data.action, addon.client.current_backend().pid
    bpy.context.scene.dimgesture.seed = 2
    assert generate() == {"FINISHED"}
    assert scene.animation_data.action != first
    assert addon.client.current_backend().pid == pid  # the backend stays warm between runs
    stashed = [s.action for t in scene.animation_data.nla_tracks for s in t.strips]
    assert first in stashed


def test_cancel_leaves_the_scene_as_it_was(addon, scene):
    bpy.context.scene.dimgesture.steps, bpy.context.scene.dimgesture.sampler = 1000, "DDPM"
    before = snapshot(scene)
    with watching(lambda: denoising_job(addon), lambda job: addon.operators.request_cancel()) as canceller:
        assert generate() == {"CANCELLED"}
    assert canceller.acted.is_set() and canceller.value.step < canceller.value.total
    assert snapshot(scene) == before and not bpy.data.actions
    assert addon.operators.active_job() is None and not bpy.context.window_manager.dimgesture_state.running
    assert addon.client.current_backend().alive  # cancelling keeps the warm backend


def test_a_killed_backend_is_reported_and_the_next_run_restarts_it(addon, scene):
    bpy.context.scene.dimgesture.steps, bpy.context.scene.dimgesture.sampler = 1000, "DDPM"
    before = snapshot(scene)
    with watching(lambda: denoising_job(addon), lambda job: os.kill(job.backend.pid, signal.SIGKILL)) as killer:
        with pytest.raises(RuntimeError, match=r"backend process stopped unexpectedly \(killed by signal 9\)"):
            generate()
    killed = [killer.value.backend.pid]
    assert snapshot(scene) == before and not bpy.data.actions
    bpy.context.scene.dimgesture.steps = 2
    assert generate() == {"FINISHED"}
    assert addon.client.current_backend().pid != killed[0]


def test_problems_are_reported_in_plain_words(addon, scene, tmp_path):
    settings = bpy.context.scene.dimgesture
    strips = compat(addon).sequencer_strips(bpy.context.scene)
    settings.strip_name = strips.new_sound("Gone", str(tmp_path / "gone.wav"), channel=2, frame_start=1).name
    with pytest.raises(RuntimeError, match="points to a file that cannot be read: .*gone.wav"):
        generate()
    settings.audio_source, settings.audio_file = "FILE", str(tmp_path / "nope.wav")
    with pytest.raises(RuntimeError, match="speech file does not exist: .*nope.wav"):
        generate()
    bpy.context.view_layer.objects.active = bpy.data.objects["RigBody"]
    with pytest.raises(RuntimeError, match="Select the armature to animate \\('RigBody' is a mesh\\)"):
        generate()
    assert not bpy.data.actions


def test_a_packed_sound_is_used_and_its_temporary_copy_removed(addon, scene, tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where the operator writes the packed sound's copy
    strip = addon.operators.sound_strips(bpy.context.scene)[0]
    strip.sound.pack()
    strip.sound.filepath = str(tmp_path / "not-on-disk.wav")  # only the packed data can be read now
    assert generate() == {"FINISHED"}
    frames = [k.co[0] for k in fcurves(addon, scene)[0].keyframe_points]
    assert frames[0] == STRIP_START and len(frames) == expected_keys()
    assert list(tmp_path.iterdir()) == []


def test_file_source_uses_the_start_frame_setting(addon, scene, clip):
    settings = bpy.context.scene.dimgesture
    settings.audio_source, settings.audio_file, settings.start_frame = "FILE", str(clip), 7
    assert generate() == {"FINISHED"}
    frames = [k.co[0] for k in fcurves(addon, scene)[0].keyframe_points]
    assert frames[0] == 7 and len(frames) == expected_keys()
    assert scene.animation_data.action.name.startswith("hello clip")


def test_check_backend_shows_device_and_model(addon, scene):
    assert bpy.ops.dimgesture.check_backend() == {"FINISHED"}
    info = bpy.context.window_manager.dimgesture_state.backend_info
    assert info.startswith("Backend ready on cpu (protocol 1") and "joints: 75" in info and "parameters:" in info


def test_cli_command_generates_into_a_new_blend(addon, scene, clip, tmp_path, capsys):
    source, out = tmp_path / "in.blend", tmp_path / "out.blend"
    bpy.context.scene.frame_start = 11
    bpy.ops.wm.save_as_mainfile(filepath=str(source))
    cli = addon.cli_command
    assert cli.run(["generate", "--blend", str(source), "--audio", str(clip), "--armature", "Nobody", "-o", str(out)]) == 1
    assert "no armature named 'Nobody'" in capsys.readouterr().err and not out.exists()
    assert cli.run(["generate", "--blend", str(source), "--audio", str(clip), "--armature", "Rig", "-o", str(out),
                    "--style", str(clip), "--style-strength", "1.5"]) == 0
    assert out.is_file()
    bpy.ops.wm.open_mainfile(filepath=str(out))
    settings = bpy.context.scene.dimgesture  # the run's settings are saved with the result
    assert settings.style_file == str(clip) and settings.style_strength == 1.5
    rig = bpy.data.objects["Rig"]
    frames = [k.co[0] for k in fcurves(addon, rig)[0].keyframe_points]
    assert frames[0] == 11 and len(frames) == expected_keys()


def test_python_batch_example_keys_and_saves(addon, scene, clip, tmp_path, monkeypatch):
    out = tmp_path / "batch.blend"
    argv = ["blender", "-b", "--python", "blender_batch_example.py", "--",
            "--audio", str(clip), "--armature", "Rig", "--start-frame", "5", "-o", str(out)]
    monkeypatch.setattr(sys, "argv", argv)
    runpy.run_path(str(REPO_ROOT / "scripts" / "blender_batch_example.py"), run_name="__main__")
    assert out.is_file() and bpy.data.filepath == str(out)
    frames = [k.co[0] for k in fcurves(addon, bpy.data.objects["Rig"])[0].keyframe_points]
    assert frames[0] == 5 and len(frames) == expected_keys()
