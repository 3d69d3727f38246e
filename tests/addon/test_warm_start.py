"""Warm start: the backend starts when a file with an armature loads (or the panel is first drawn), Generate
reuses that process, and unregistering stops it."""

import bpy
import pytest

from test_operator import clip, generate, scene  # noqa: F401  (fixtures)


@pytest.fixture
def interactive(addon, monkeypatch):
    """Pretend to be an interactive session (warm starts are off in background Blender); no backend before or after."""
    monkeypatch.setattr(addon.warm_start, "interactive", lambda: True)
    addon.client.shutdown_backend()
    yield addon.warm_start
    addon.client.shutdown_backend()


def test_the_option_is_on_by_default(addon, extension):
    prefs = bpy.context.preferences.addons[extension].preferences
    assert prefs.bl_rna.properties["warm_start"].default is True


def test_opening_a_file_with_a_rig_warms_the_backend_and_generate_reuses_it(addon, scene, interactive, tmp_path):
    path = tmp_path / "rigged.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(path))
    addon.client.shutdown_backend()
    bpy.ops.wm.open_mainfile(filepath=str(path))
    warm = addon.client.current_backend()
    assert warm is not None and warm.alive
    bpy.context.view_layer.objects.active = bpy.data.objects["Rig"]
    assert generate() == {"FINISHED"}
    assert addon.client.current_backend() is warm and warm.alive  # the first Generate found it running
    assert bpy.data.objects["Rig"].animation_data.action is not None


def test_no_warm_start_without_a_rig_or_with_the_option_off(addon, extension, interactive, tmp_path):
    path = tmp_path / "empty.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(path))
    bpy.ops.wm.open_mainfile(filepath=str(path))
    assert addon.client.current_backend() is None
    prefs = bpy.context.preferences.addons[extension].preferences
    prefs.warm_start = False
    try:
        assert interactive.warm_start() is None and addon.client.current_backend() is None
    finally:
        prefs.warm_start = True


def test_the_first_panel_draw_warms_and_unregister_stops_it(addon, extension, scene, interactive):
    interactive.on_panel_draw(bpy.context)
    backend = addon.client.current_backend()
    assert backend is not None and backend.alive
    assert interactive.warm_start() is backend  # warming again keeps the same process
    addon.client.shutdown_backend()
    interactive.on_panel_draw(bpy.context)
    assert addon.client.current_backend() is None  # only the first draw of a session starts one
    bpy.ops.preferences.addon_disable(module=extension)
    try:
        assert not backend.alive and addon.client.current_backend() is None
        assert interactive.on_file_loaded not in bpy.app.handlers.load_post
    finally:
        bpy.ops.preferences.addon_enable(module=extension)
