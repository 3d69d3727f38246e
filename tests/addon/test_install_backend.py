"""'Install backend' steps on a real venv, and what the user sees when a Python cannot run the backend."""

import queue
import sys

import pytest


@pytest.fixture(scope="module")
def torchless_install(tmp_path_factory, extension):
    """Run the installer's real steps with an empty requirements file: venv and pip work, the final check must fail."""
    addon = sys.modules[f"{extension}.dimgesture_addon"]
    tmp = tmp_path_factory.mktemp("install")
    requirements = tmp / "requirements.txt"
    requirements.write_text("# nothing to install\n")
    installer = addon.install_backend.Installer(tmp / "venv", requirements, base_python=sys.executable).start()
    installer.join(timeout=600)
    lines = []
    while True:
        try:
            lines.append(installer.lines.get_nowait())
        except queue.Empty:
            return installer, lines


def test_installer_runs_its_steps_in_order_and_explains_the_failure(torchless_install):
    installer, lines = torchless_install
    assert installer.done and installer.step == 2  # venv created, requirements installed, check failed
    titles = [title for title, _ in installer.steps]
    assert [line for line in lines if line in titles] == titles
    assert installer.error == ("Checking that the backend starts failed (exit code 1): "
                               "ModuleNotFoundError: No module named 'torch'")
    assert (installer.venv / "bin" / "python").is_file()


def test_a_python_without_torch_is_reported_in_words(torchless_install, addon):
    installer, _ = torchless_install
    config = addon.client.BackendConfig(python=str(installer.venv / "bin" / "python"),
                                        root=str(addon.preferences.EXTENSION_ROOT))
    backend = addon.client.BackendProcess(config)
    try:
        with pytest.raises(addon.client.BackendError) as info:
            backend.hello(timeout=60)
    finally:
        backend.stop()
    message = str(info.value)
    assert info.value.kind == "backend_crashed"
    assert message.startswith("The backend process stopped unexpectedly (exit code 3).")
    assert "cannot import PyTorch" in message and "Install backend" in message


def test_a_missing_python_is_reported_before_starting(addon, tmp_path):
    config = addon.client.BackendConfig(python=str(tmp_path / "python"), root=str(tmp_path))
    with pytest.raises(addon.client.BackendError, match="does not exist"):
        addon.client.BackendProcess(config)


def test_install_backend_respects_blenders_online_access_setting(addon):
    """The only network use of the extension is pip in Install backend; with online access off it refuses."""
    import bpy

    assert bpy.app.online_access is False  # the bpy module starts offline, like a fresh Blender
    venv = addon.preferences.install_venv_dir()
    existed = venv.exists()
    with pytest.raises(RuntimeError, match="online access is off"):
        bpy.ops.dimgesture.install_backend()
    assert not bpy.context.window_manager.dimgesture_state.running
    assert venv.exists() == existed  # nothing created
