"""The panel and preferences draw code, run against a layout that checks every property and operator it names.

Headless Blender has no regions to draw in, so the layout is a recorder; what it checks is what
would break in the UI: unknown properties, unknown operators, wrong search collections.
"""

import importlib

import bpy
import pytest


class CheckingLayout:
    """Records calls; ``prop``/``prop_search``/``operator`` fail on names Blender does not know."""

    def __init__(self, calls=None):
        self.calls = [] if calls is None else calls

    def _check_prop(self, data, name):
        assert name in data.bl_rna.properties, f"{type(data).__name__} has no property {name!r}"

    def prop(self, data, name, **kwargs):
        self._check_prop(data, name)
        self.calls.append(("prop", name, kwargs.get("text")))

    def prop_search(self, data, name, search_data, search_name, **kwargs):
        self._check_prop(data, name)
        self._check_prop(search_data, search_name)
        assert search_data.bl_rna.properties[search_name].type == "COLLECTION"
        self.calls.append(("prop_search", name, search_name))

    def operator(self, idname, **kwargs):
        module, name = idname.split(".")
        rna = getattr(getattr(bpy.ops, module), name).get_rna_type()  # KeyError when not registered
        self.calls.append(("operator", idname, kwargs.get("text")))
        return OperatorProperties(rna, self.calls, idname)

    def operator_menu_enum(self, idname, prop, **kwargs):
        self.operator(idname)

    def label(self, text="", **kwargs):
        self.calls.append(("label", text, kwargs.get("icon")))

    def progress(self, factor=0.0, type="BAR", text=""):
        assert 0.0 <= factor <= 1.0
        self.calls.append(("progress", round(factor, 3), text))

    def __getattr__(self, name):  # rows, columns, boxes, separators, lists: sub-layouts that record into the same list
        return lambda *args, **kwargs: CheckingLayout(self.calls)


class OperatorProperties:
    """What ``layout.operator`` returns: setting a property the operator lacks fails."""

    def __init__(self, rna, calls, idname):
        object.__setattr__(self, "_rna", rna)
        object.__setattr__(self, "_record", lambda name, value: calls.append(("operator_property", idname, name, value)))

    def __setattr__(self, name, value):
        assert name in self._rna.properties, f"operator has no property {name!r}"
        self._record(name, value)


def draw_panel(context):
    layout = CheckingLayout()
    bpy.types.VIEW3D_PT_dimgesture.draw(type("PanelSelf", (), {"layout": layout})(), context)
    return layout.calls


@pytest.fixture
def rig_with_strip(addon):
    rig = importlib.import_module(f"{addon.__name__}.rig_builder").build_demo_rig(bpy.context, "Rig")
    bpy.context.scene.sequence_editor_create()
    strips = importlib.import_module(f"{addon.__name__}.compat").sequencer_strips(bpy.context.scene)
    strips.new_sound("Speech", str(addon.preferences.EXTENSION_ROOT / "assets" / "demo_speech.wav"), channel=1, frame_start=1)
    return rig


def test_panel_idle_with_a_strip_and_an_armature(rig_with_strip):
    calls = draw_panel(bpy.context)
    assert ("prop_search", "strip_name", "strips_all") in calls
    assert ("label", "Rig", "ARMATURE_DATA") in calls
    assert ("operator", "dimgesture.generate", None) in calls and ("operator", "dimgesture.cancel", None) not in calls
    for name in ("seed", "steps", "sampler", "guidance", "style_file", "style_strength", "root_motion", "smoothing", "use_strip_start"):
        assert ("prop", name, None) in calls
    assert ("operator", "dimgesture.bone_map_fill", None) in calls  # the bone map section is drawn
    for name in ("body_parts", "use_fingers", "output", "intensity", "takes", "reduce_keys"):
        assert ("prop", name, None) in calls
    assert ("operator_property", "dimgesture.generate", "whole_scene", True) in calls  # Generate scene
    assert ("operator", "dimgesture.pair_add", "") in calls


def test_panel_shows_nla_blend_settings_and_the_takes_list(rig_with_strip):
    settings = bpy.context.scene.dimgesture
    settings.output, settings.reduce_keys = "NLA", True
    for seed in (3, 4):
        take = rig_with_strip.dimgesture_takes.add()
        take.name, take.seed, take.clip = f"Speech seed {seed}", seed, "Speech"
    calls = draw_panel(bpy.context)
    for name in ("blend_type", "influence", "blend_in", "blend_out", "key_tolerance"):
        assert ("prop", name, None) in calls
    assert ("label", "Takes", "SEQUENCE") in calls


def test_takes_and_pairs_list_rows(rig_with_strip):
    action = bpy.data.actions.new("Speech seed 3")
    take = rig_with_strip.dimgesture_takes.add()
    take.name, take.seed, take.clip, take.action = action.name, 3, "Speech", action
    layout = CheckingLayout()
    bpy.types.DIMGESTURE_UL_takes.draw_item(None, bpy.context, layout, rig_with_strip, take, 0, None, "", index=0)
    assert ("label", "Speech  seed 3", "PLAY") in layout.calls and ("label", "Speech seed 3", None) in layout.calls
    assert ("operator_property", "dimgesture.use_take", "index", 0) in layout.calls
    pair = bpy.context.scene.dimgesture_pairs.add()
    layout = CheckingLayout()
    bpy.types.DIMGESTURE_UL_pairs.draw_item(None, bpy.context, layout, bpy.context.scene, pair, 0, None, "", index=0)
    assert ("prop_search", "strip", "strips_all") in layout.calls and ("prop", "armature", "") in layout.calls


def test_panel_while_running_shows_progress_and_cancel(rig_with_strip):
    state = bpy.context.window_manager.dimgesture_state
    state.running, state.progress, state.status = True, 0.25, "Denoising: 5/20"
    try:
        calls = draw_panel(bpy.context)
    finally:
        state.running, state.progress, state.status = False, 0.0, ""
    assert ("progress", 0.25, "Denoising: 5/20") in calls
    assert ("operator", "dimgesture.cancel", None) in calls and ("operator", "dimgesture.generate", None) not in calls


def test_panel_with_a_file_source_and_no_armature(addon):
    bpy.context.scene.dimgesture.audio_source = "FILE"
    calls = draw_panel(bpy.context)
    assert ("prop", "audio_file", None) in calls and ("prop", "start_frame", None) in calls
    assert ("label", "Select an armature", "ERROR") in calls


def test_preferences_draw_shows_resolved_paths_and_buttons(addon, extension):
    prefs = bpy.context.preferences.addons[extension].preferences
    layout = CheckingLayout()
    proxy = type("PrefsSelf", (), {"layout": layout, "__getattr__": lambda self, name: getattr(prefs, name)})()
    type(prefs).draw(proxy, bpy.context)
    calls = layout.calls
    for name in ("python_path", "checkpoint_dir", "device", "sampler", "steps"):
        assert ("prop", name, None) in calls
    assert ("operator", "dimgesture.check_backend", None) in calls and ("operator", "dimgesture.install_backend", None) in calls
    assert any(c[0] == "label" and c[1].startswith("Using: ") and c[1].endswith(".venv/bin/python") for c in calls)
    assert ("label", "Press 'Check backend' to see what the backend reports.", None) in calls


def test_preferences_show_install_progress(addon, extension):
    prefs = bpy.context.preferences.addons[extension].preferences
    state = bpy.context.window_manager.dimgesture_state
    state.running, state.progress, state.status = True, 1 / 3, "Installing the backend's packages"
    layout = CheckingLayout()
    try:
        type(prefs).draw(type("PrefsSelf", (), {"layout": layout, "__getattr__": lambda self, n: getattr(prefs, n)})(),
                         bpy.context)
    finally:
        state.running, state.progress, state.status = False, 0.0, ""
    assert ("progress", 0.333, "Installing the backend's packages") in layout.calls
