"""Shared fixtures for the reliability tests: a tiny pipeline and its saved checkpoint."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_pipeline():
    """A randomly initialised ``tiny`` pipeline (fast on a CPU; the same for every test)."""
    from backend.model.config import preset, scheduler_preset
    from backend.pipeline import GesturePipeline

    return GesturePipeline.from_config(preset("tiny"), seed=0, scheduler=scheduler_preset("tiny"))


@pytest.fixture(scope="session")
def tiny_checkpoint(tiny_pipeline, tmp_path_factory) -> Path:
    """The tiny pipeline saved as a checkpoint folder (config.json + two safetensors files)."""
    folder = tmp_path_factory.mktemp("checkpoint") / "tiny"
    tiny_pipeline.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def speech_clip(tmp_path_factory) -> Path:
    """2 s of speech-like sound as a WAV file."""
    import soundfile as sf

    from reliability_helpers import SPEECH_SAMPLE_RATE, speech_like

    path = tmp_path_factory.mktemp("audio") / "speech clip.wav"
    sf.write(path, speech_like(2.0), SPEECH_SAMPLE_RATE)
    return path


@pytest.fixture
def blender(tiny_checkpoint):
    """Real Blender with the extension enabled, an empty scene and preferences aimed at the tiny checkpoint.

    Yields the add-on's ``dimgesture_addon`` package; preferences are restored afterwards.
    """
    import reliability_blender as rb

    bpy = rb.bpy
    package = rb.enabled_extension()
    bpy.ops.wm.read_homefile(use_empty=True, use_factory_startup=True)
    prefs = bpy.context.preferences.addons[package].preferences
    saved = (prefs.checkpoint_dir, prefs.device, prefs.python_path)
    prefs.checkpoint_dir, prefs.device, prefs.python_path = str(tiny_checkpoint), "CPU", ""
    yield rb.addon_module(package)
    prefs.checkpoint_dir, prefs.device, prefs.python_path = saved


@pytest.fixture
def rig(blender, speech_clip):
    """The demo rig (active and selected) and the clip as the scene's only sound strip, at frame 1, 2 steps."""
    import reliability_blender as rb

    bpy = rb.bpy
    context = bpy.context
    context.scene.render.fps, context.scene.render.fps_base = 25, 1.0
    package = blender.__name__.rpartition(".")[0]
    obj = rb.addon_module(package, "rig_builder").build_demo_rig(context, "Rig")
    context.scene.sequence_editor_create()
    strips = rb.addon_module(package, "compat").sequencer_strips(context.scene)
    strips.new_sound("Speech", str(speech_clip), channel=1, frame_start=1)
    settings = context.scene.dimgesture
    settings.strip_name, settings.steps, settings.seed = "Speech", 2, 1
    context.view_layer.objects.active = obj
    obj.select_set(True)
    return obj
