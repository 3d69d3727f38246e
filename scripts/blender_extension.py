"""Enabling the extension in real Blender (the bpy wheel) the way Blender enables an installed one.

Shared by ``make demo`` (scripts/demo.py), the keyframe benchmark (scripts/bench_keyframes.py) and
the tests (tests/blender_session.py). DESIGN.md §10: a
throwaway user-resources folder set before ``import bpy``; a user extension repository whose folder
holds a link named ``dimgesture`` to the repository root; ``addon_enable("bl_ext.<repo>.dimgesture")``.
Every temporary folder made here is removed when the process exits (removing the repository folder
removes the link in it, never the repository the link points to).
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

def temp_dir(prefix: str) -> Path:
    """A new temporary folder, removed (with whatever is in it) when the process exits."""
    folder = tempfile.mkdtemp(prefix=prefix)
    atexit.register(shutil.rmtree, folder, True)
    return Path(folder)


def use_throwaway_user_resources(prefix: str = "dimgesture-blender-user-") -> Path:
    """Point ``BLENDER_USER_RESOURCES`` at a new temporary folder; call before ``import bpy``."""
    if "bpy" in sys.modules:
        raise RuntimeError("bpy was imported before BLENDER_USER_RESOURCES was set")
    folder = temp_dir(prefix)
    os.environ["BLENDER_USER_RESOURCES"] = str(folder)
    return folder


def enable_extension(bpy, root: Path, repo_module: str) -> str:
    """Register ``root`` as user extension repository ``repo_module`` and enable the extension from it.

    Returns the package name (``bl_ext.<repo_module>.dimgesture``); does nothing more when it is
    already enabled.
    """
    package = f"bl_ext.{repo_module}.dimgesture"
    if package in bpy.context.preferences.addons:
        return package
    repo_dir = temp_dir("dimgesture-ext-repo-")
    (repo_dir / "dimgesture").symlink_to(Path(root).resolve(), target_is_directory=True)
    bpy.context.preferences.extensions.repos.new(name=repo_module, module=repo_module, custom_directory=str(repo_dir),
                                                 source="USER")
    bpy.ops.preferences.addon_enable(module=package)
    if package not in bpy.context.preferences.addons:
        raise RuntimeError(f"Blender did not enable {package}")
    return package
