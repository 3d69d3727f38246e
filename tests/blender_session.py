"""The one real-Blender start-up the tests share (tests/addon, tests/reliability).

Import this module before ``bpy``: it sets a throwaway user-resources folder first (the first
importer in a session does; ``import bpy`` then sees it) and enables the extension the way
Blender enables an installed one (scripts/blender_extension.py, also used by ``make demo``).
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
TEST_REPO_MODULE = "dimgesture_tests"  # the extension repository the tests enable the extension from
if str(REPO_ROOT / "scripts") not in sys.path:
    sys.path.append(str(REPO_ROOT / "scripts"))

from blender_extension import enable_extension, use_throwaway_user_resources  # noqa: E402

if "bpy" not in sys.modules:
    use_throwaway_user_resources()

import bpy  # noqa: E402


def enabled_extension() -> str:
    """The enabled extension's package (``bl_ext.dimgesture_tests.dimgesture``), enabling it if nobody has yet."""
    return enable_extension(bpy, REPO_ROOT, TEST_REPO_MODULE)
