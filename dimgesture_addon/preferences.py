"""Add-on preferences: which Python runs the backend, which checkpoint it loads, where it runs.

Empty path fields mean "automatic"; ``resolve_python`` / ``resolve_checkpoint`` say what that
resolves to, so the UI can show the user the real paths and a plain reason when none fits.
Blender's own Python is never a candidate: it has no PyTorch.
"""

from __future__ import annotations

import os
from pathlib import Path

import bpy
from bpy.props import BoolProperty, EnumProperty, FloatProperty, IntProperty, StringProperty

from . import compat
from .client import BackendConfig, BackendError
from .preflight import DEFAULT_MAX_CLIP_MINUTES
from .settings import PROTOCOL_SAMPLER_ITEMS

ADDON_PACKAGE = __package__.rpartition(".")[0]  # the extension itself, e.g. bl_ext.user_default.dimgesture
EXTENSION_ROOT = Path(__file__).parent.parent  # holds blender_manifest.toml and the bundled backend/
VENV_DIRNAME = "backend-venv"


def venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def install_venv_dir(create: bool = False) -> Path:
    """Where 'Install backend' puts its virtual environment (the extension's user folder)."""
    return Path(bpy.utils.extension_path_user(ADDON_PACKAGE, path=VENV_DIRNAME, create=create))


def get_prefs(context=None) -> DimGesturePreferences:
    context = context or bpy.context
    return context.preferences.addons[ADDON_PACKAGE].preferences


def python_candidates() -> list[Path]:
    """Automatic choices in order: the project's .venv beside the extension (a source checkout), then the installed venv."""
    return [venv_python(EXTENSION_ROOT / ".venv"), venv_python(install_venv_dir())]


def resolve_python(prefs) -> Path:
    """The backend Python to run, or a BackendError that tells the user how to get one."""
    if prefs.python_path:
        path = Path(bpy.path.abspath(prefs.python_path))
        if not path.is_file():
            raise BackendError(f"The backend Python set in the preferences does not exist: {path}", "setup")
        return path
    for path in python_candidates():
        if path.is_file():
            return path
    raise BackendError("No backend Python found. Press 'Install backend' in the DiM-Gesture preferences, or set the "
                       "path of a Python that has PyTorch (Blender's own Python has none).", "setup")


def resolve_checkpoint(prefs, check: bool = True) -> Path:
    """The checkpoint folder to load, or (``check``) a BackendError saying what is missing."""
    path = Path(bpy.path.abspath(prefs.checkpoint_dir)) if prefs.checkpoint_dir else EXTENSION_ROOT / "checkpoints" / "demo"
    if check and not (path / "config.json").is_file():
        where = "set in the preferences" if prefs.checkpoint_dir else "default"
        raise BackendError(f"No model checkpoint at {path} ({where}): the folder needs config.json and "
                           "model.safetensors. Choose a checkpoint folder in the DiM-Gesture preferences.", "checkpoint")
    return path


def backend_config(context=None, check_checkpoint: bool = True) -> BackendConfig:
    """The backend process the current preferences ask for (without ``check_checkpoint``, the backend explains a bad one)."""
    prefs = get_prefs(context)
    return BackendConfig(python=str(resolve_python(prefs)), root=str(EXTENSION_ROOT),
                         checkpoint=str(resolve_checkpoint(prefs, check_checkpoint)), device=prefs.device.lower())


class DimGesturePreferences(bpy.types.AddonPreferences):
    bl_idname = ADDON_PACKAGE

    python_path: StringProperty(
        name="Backend Python", subtype="FILE_PATH", default="",
        description="Python interpreter with PyTorch that runs the backend (empty: automatic)")
    checkpoint_dir: StringProperty(
        name="Checkpoint", subtype="DIR_PATH", default="",
        description="Model checkpoint folder with config.json and model.safetensors (empty: the bundled demo)")
    device: EnumProperty(
        name="Device",
        items=[("AUTO", "Automatic", "The GPU when the backend's PyTorch sees one, else the CPU"),
               ("CUDA", "CUDA GPU", "Always the NVIDIA GPU"), ("CPU", "CPU", "Always the CPU")],
        default="AUTO")
    sampler: EnumProperty(
        name="Sampler",
        items=[("CHECKPOINT", "Checkpoint default", "The sampler the checkpoint was made for")] + PROTOCOL_SAMPLER_ITEMS,
        default="CHECKPOINT")
    steps: IntProperty(name="Steps", default=0, min=0, max=1000, description="Denoising steps (0: the checkpoint's default)")
    max_clip_minutes: FloatProperty(
        name="Longest clip (min)", default=DEFAULT_MAX_CLIP_MINUTES, min=0.1, soft_max=120.0,
        description="Generate refuses longer speech (keys for hours of speech run into tens of millions): "
                    "raise this, or split the recording into shorter files")
    warm_start: BoolProperty(
        name="Start backend early", default=True,
        description="Start the backend and load the model in the background when the DiM-Gesture panel is first shown "
                    "or a file with an armature is opened, so the first Generate does not wait for it")

    def draw(self, context):
        layout = self.layout
        col = layout.column()
        col.prop(self, "python_path")
        try:
            col.label(text=f"Using: {resolve_python(self)}", icon="CHECKMARK")
        except BackendError as err:
            col.label(text=str(err), icon="ERROR")
        col.prop(self, "checkpoint_dir")
        try:
            col.label(text=f"Using: {resolve_checkpoint(self)}", icon="CHECKMARK")
        except BackendError as err:
            col.label(text=str(err), icon="ERROR")
        col.prop(self, "device")
        row = col.row()
        row.prop(self, "sampler")
        row.prop(self, "steps")
        col.prop(self, "max_clip_minutes")
        col.prop(self, "warm_start")
        row = layout.row()
        row.operator("dimgesture.check_backend", icon="PLUGIN")
        row.operator("dimgesture.install_backend", icon="IMPORT")
        state = context.window_manager.dimgesture_state
        if state.running:  # 'Install backend' (or a generation) in progress
            compat.draw_progress(layout, state.progress, state.status or "Working…")
        box = layout.box()
        for line in (state.backend_info or "Press 'Check backend' to see what the backend reports.").splitlines():
            box.label(text=line)


classes = (DimGesturePreferences,)
