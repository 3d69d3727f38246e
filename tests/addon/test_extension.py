"""The extension as Blender sees it: manifest, zip, install, registration, preferences, panel."""

import subprocess
import sys
import textwrap
import tomllib
import zipfile
from pathlib import Path

import bpy
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]

BLENDER_EXT = Path(bpy.utils.system_resource("SCRIPTS")) / "addons_core" / "bl_pkg" / "cli" / "blender_ext.py"


def blender_ext(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(BLENDER_EXT), *args], capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def extension_zip(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("zip") / "dimgesture.zip"
    proc = blender_ext("build", "--source-dir", str(REPO_ROOT), "--output-filepath", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out


def test_manifest_validates_with_blenders_own_tool():
    assert BLENDER_EXT.is_file()
    proc = blender_ext("validate", str(REPO_ROOT))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    manifest = tomllib.loads((REPO_ROOT / "blender_manifest.toml").read_text())
    assert manifest["id"] == "dimgesture" and manifest["blender_version_min"] == "4.2.0"


def test_zip_holds_exactly_the_extension(extension_zip):
    names = zipfile.ZipFile(extension_zip).namelist()
    assert {n.split("/")[0] for n in names} == {"__init__.py", "blender_manifest.toml", "dimgesture_addon", "backend"}
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc") or "/." in n or n.startswith(".")]
    for needed in ("backend/server.py", "backend/protocol.py", "backend/requirements.txt", "backend/motion/motion.py",
                   "dimgesture_addon/__init__.py", "dimgesture_addon/client.py"):
        assert needed in names


def test_zip_installs_enables_and_stops_its_backend_at_exit(extension_zip, tmp_path):
    """``extensions.package_install_files`` in a separate Blender session (a second copy cannot share this one)."""
    script = textwrap.dedent(f"""
        import os, sys
        os.environ["BLENDER_USER_RESOURCES"] = {str(tmp_path / "user")!r}
        import bpy
        result = bpy.ops.extensions.package_install_files(
            filepath={str(extension_zip)!r}, repo="user_default", enable_on_install=True)
        assert result == {{"FINISHED"}}, result
        pkg = "bl_ext.user_default.dimgesture"
        assert pkg in bpy.context.preferences.addons, sorted(bpy.context.preferences.addons.keys())
        root = bpy.utils.user_resource("EXTENSIONS", path="user_default/dimgesture")
        assert os.path.isfile(os.path.join(root, "backend", "server.py")), root
        assert hasattr(bpy.types, "VIEW3D_PT_dimgesture") and hasattr(bpy.types, "DIMGESTURE_OT_generate")
        bpy.ops.preferences.addon_disable(module=pkg)
        assert not hasattr(bpy.types, "VIEW3D_PT_dimgesture")
        bpy.ops.preferences.addon_enable(module=pkg)
        client = sys.modules[pkg + ".dimgesture_addon.client"]
        backend = client.get_backend(client.BackendConfig(python={sys.executable!r}, root=root))
        print("INSTALLED-OK", backend.pid)  # ... and Blender exits with the backend running
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0 and "INSTALLED-OK" in proc.stdout, proc.stdout[-2000:] + proc.stderr[-3000:]
    pid = int(proc.stdout.split("INSTALLED-OK")[1].split()[0])
    assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()  # stopped at exit


def test_enabled_the_real_way_with_preferences(addon, extension):
    assert extension.startswith("bl_ext.") and addon.__name__ == f"{extension}.dimgesture_addon"
    prefs = bpy.context.preferences.addons[extension].preferences
    assert type(prefs).bl_idname == extension == addon.preferences.ADDON_PACKAGE
    defaults = {name: prefs.bl_rna.properties[name].default for name in ("device", "sampler", "steps", "python_path")}
    assert defaults == {"device": "AUTO", "sampler": "CHECKPOINT", "steps": 0, "python_path": ""}


def test_panel_lives_in_the_3d_viewport_sidebar(addon):
    panel = bpy.types.VIEW3D_PT_dimgesture
    assert (panel.bl_space_type, panel.bl_region_type, panel.bl_category) == ("VIEW_3D", "UI", "DiM-Gesture")
    for name in ("generate", "cancel", "check_backend", "install_backend"):
        assert getattr(bpy.ops.dimgesture, name).get_rna_type().identifier == f"DIMGESTURE_OT_{name}"
    assert addon.cli_command._handle is not None
    assert bpy.context.scene.dimgesture.audio_source == "STRIP"


def test_disable_unregisters_everything_and_stops_the_backend(addon, extension):
    backend = addon.client.get_backend(addon.client.BackendConfig(python=sys.executable, root=str(REPO_ROOT)))
    assert backend.alive
    bpy.ops.preferences.addon_disable(module=extension)
    try:
        assert not backend.alive and addon.client.current_backend() is None
        assert not hasattr(bpy.types, "VIEW3D_PT_dimgesture")
        assert not hasattr(bpy.types.Scene, "dimgesture") and not hasattr(bpy.types, "DIMGESTURE_OT_generate")
        assert addon.cli_command._handle is None
    finally:
        bpy.ops.preferences.addon_enable(module=extension)
    assert hasattr(bpy.types, "VIEW3D_PT_dimgesture") and bpy.context.scene.dimgesture.seed == 0


def test_automatic_backend_python_is_the_projects_venv_never_blenders(addon, extension):
    prefs = bpy.context.preferences.addons[extension].preferences
    venv_python = REPO_ROOT / ".venv" / "bin" / "python"
    assert venv_python.is_file()  # this test runs from a set-up checkout
    assert addon.preferences.resolve_python(prefs) == addon.preferences.EXTENSION_ROOT / ".venv" / "bin" / "python"
    prefs.python_path = "/no/such/python"
    try:
        with pytest.raises(addon.client.BackendError, match="does not exist: /no/such/python"):
            addon.preferences.resolve_python(prefs)
    finally:
        prefs.python_path = ""


def test_missing_checkpoint_is_named(addon, extension, tmp_path):
    prefs = bpy.context.preferences.addons[extension].preferences
    prefs.checkpoint_dir = str(tmp_path)
    try:
        with pytest.raises(addon.client.BackendError, match=f"No model checkpoint at {tmp_path}"):
            addon.preferences.resolve_checkpoint(prefs)
    finally:
        prefs.checkpoint_dir = ""


def test_backend_requirements_are_the_project_pins():
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    assert "dependencies" in project["project"]["dynamic"]
    assert project["tool"]["setuptools"]["dynamic"]["dependencies"]["file"] == ["backend/requirements.txt"]
    lines = (REPO_ROOT / "backend" / "requirements.txt").read_text().splitlines()
    reqs = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    assert reqs and all("==" in r for r in reqs), reqs  # every dependency pinned
    assert "torch==2.13.0" in reqs
