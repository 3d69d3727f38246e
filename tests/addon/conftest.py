"""Real Blender (the bpy wheel) with the extension enabled the way Blender enables it.

DESIGN.md §10: a throwaway user-resources folder is set before ``import bpy``; a user
extension repository whose folder holds a link named ``dimgesture`` to the repository root;
``addon_enable("bl_ext.<repo>.dimgesture")``. Every test starts from an empty scene.
"""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
REPO_MODULE = "dimgesture_tests"
PACKAGE = f"bl_ext.{REPO_MODULE}.dimgesture"

_user_resources = tempfile.mkdtemp(prefix="dimgesture-blender-user-")
os.environ["BLENDER_USER_RESOURCES"] = _user_resources
assert "bpy" not in sys.modules, "bpy was imported before BLENDER_USER_RESOURCES was set"

import bpy  # noqa: E402


def _enable_extension() -> str:
    if PACKAGE in bpy.context.preferences.addons:  # another test folder enabled it already
        return PACKAGE
    repo_dir = Path(tempfile.mkdtemp(prefix="dimgesture-ext-repo-"))
    (repo_dir / "dimgesture").symlink_to(REPO_ROOT, target_is_directory=True)
    repos = bpy.context.preferences.extensions.repos
    repos.new(name=REPO_MODULE, module=REPO_MODULE, custom_directory=str(repo_dir), source="USER")
    bpy.ops.preferences.addon_enable(module=PACKAGE)
    assert PACKAGE in bpy.context.preferences.addons, f"{PACKAGE} did not enable"
    return PACKAGE


@pytest.fixture(scope="session")
def extension():
    """The enabled extension's package name (``bl_ext.dimgesture_tests.dimgesture``)."""
    package = _enable_extension()
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
    code = ("import sys; from backend.model.config import preset; from backend.pipeline import GesturePipeline; "
            "GesturePipeline.from_config(preset('tiny'), seed=1).save_pretrained(sys.argv[1])")
    subprocess.run([sys.executable, "-c", code, str(folder)], check=True, cwd=REPO_ROOT, timeout=300)
    return folder
