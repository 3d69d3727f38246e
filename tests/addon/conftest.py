"""Real Blender (the bpy wheel) with the extension enabled the way Blender enables it.

DESIGN.md §10: a throwaway user-resources folder is set before ``import bpy``; a user
extension repository whose folder holds a link named ``dimgesture`` to the repository root;
``addon_enable("bl_ext.<repo>.dimgesture")``. Every test starts from an empty scene.
"""

import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT / "scripts") not in sys.path:
    sys.path.append(str(REPO_ROOT / "scripts"))

from blender_extension import TEST_REPO_MODULE, enable_extension, use_throwaway_user_resources  # noqa: E402

use_throwaway_user_resources()

import bpy  # noqa: E402


@pytest.fixture(scope="session")
def extension():
    """The enabled extension's package name (``bl_ext.dimgesture_tests.dimgesture``)."""
    package = enable_extension(bpy, REPO_ROOT, TEST_REPO_MODULE)
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
