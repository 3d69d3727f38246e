"""Real Blender (the bpy wheel) with the extension enabled the way Blender enables it (tests/blender_session.py).

Every test starts from an empty scene.
"""

import subprocess
import sys
from pathlib import Path

import pytest
from blender_session import REPO_ROOT, bpy, enabled_extension


@pytest.fixture(scope="session")
def extension():
    """The enabled extension's package name (``bl_ext.dimgesture_tests.dimgesture``)."""
    package = enabled_extension()
    yield package
    if package in bpy.context.preferences.addons:
        bpy.ops.preferences.addon_disable(module=package)


@pytest.fixture
def addon(extension):
    """The extension's ``dimgesture_addon`` package, with a fresh empty scene."""
    bpy.ops.wm.read_homefile(use_empty=True, use_factory_startup=True)
    return sys.modules[f"{extension}.dimgesture_addon"]


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    """A tiny random checkpoint written by the real pipeline code, in another process: Blender's never imports torch."""
    folder = tmp_path_factory.mktemp("ckpt") / "tiny"
    code = ("import sys; from backend.model.config import preset, scheduler_preset; from backend.pipeline import GesturePipeline; "
            "GesturePipeline.from_config(preset('tiny'), seed=1, scheduler=scheduler_preset('tiny')).save_pretrained(sys.argv[1])")
    subprocess.run([sys.executable, "-c", code, str(folder)], check=True, cwd=REPO_ROOT, timeout=300)
    return folder
