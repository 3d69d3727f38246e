"""Issue 8 §6: temporary files are cleaned up, nothing is written outside the user's output, and the
add-on never touches the network (statically: no network module is imported on the Blender side;
at run time: sockets blocked in Blender and in the backend process during real Generate runs)."""

from __future__ import annotations

import ast
import os
import signal
import socket
import tempfile
from pathlib import Path

import pytest

from reliability_blender import bpy, denoising_job
from reliability_helpers import GUARD, REPO_ROOT, tree
from watcher import watching

NETWORK_MODULES = {"socket", "ssl", "urllib", "urllib3", "http", "requests", "httpx", "aiohttp", "ftplib", "smtplib",
                   "poplib", "imaplib", "telnetlib", "xmlrpc", "websocket", "websockets", "asyncio", "webbrowser"}


def blender_side_sources() -> list[Path]:
    """Every file that runs inside Blender: the entry point, the add-on and the backend parts it imports."""
    files = [REPO_ROOT / "__init__.py", *sorted((REPO_ROOT / "dimgesture_addon").rglob("*.py"))]
    files += [REPO_ROOT / "backend" / name for name in ("__init__.py", "errors.py", "protocol.py")]
    return files + sorted((REPO_ROOT / "backend" / "motion").rglob("*.py"))


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in ("import_module", "__import__"):
            names |= {arg.value for arg in node.args[:1] if isinstance(arg, ast.Constant) and isinstance(arg.value, str)}
    return names


def test_no_network_module_is_imported_on_the_blender_side():
    sources = blender_side_sources()
    assert len(sources) > 10 and all(p.is_file() for p in sources)
    offenders = {str(p.relative_to(REPO_ROOT)): sorted(m for m in imported_modules(p) if m.split(".")[0] in NETWORK_MODULES)
                 for p in sources}
    assert not {k: v for k, v in offenders.items() if v}


def test_blender_side_starts_processes_without_a_shell():
    for path in blender_side_sources():
        text = path.read_text(encoding="utf-8")
        assert "shell=True" not in text and "os.system(" not in text and "os.popen(" not in text, path


def test_processes_are_started_in_two_known_places_only():
    """The add-on starts other programs only to run the backend (client.py) and to install it on the
    user's click (install_backend.py: venv + pip, the one place that downloads: see docs/reliability.md)."""
    starters = {str(p.relative_to(REPO_ROOT)) for p in blender_side_sources()
                if any(word in p.read_text(encoding="utf-8") for word in ("subprocess", "os.exec", "os.spawn", "os.fork"))}
    assert starters == {"dimgesture_addon/client.py", "dimgesture_addon/install_backend.py"}
    pip_users = {str(p.relative_to(REPO_ROOT)) for p in blender_side_sources() if '"pip"' in p.read_text(encoding="utf-8")}
    assert pip_users == {"dimgesture_addon/install_backend.py"}


def test_the_scan_would_catch_a_network_import(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("import os\nfrom urllib.request import urlopen\nimport importlib\nimportlib.import_module('socket')\n")
    assert {"urllib.request", "socket"} <= imported_modules(sample)


# --- at run time -------------------------------------------------------------------------------------
@pytest.fixture
def sealed(blender, tmp_path, monkeypatch):
    """HOME and TMPDIR in empty folders, sockets blocked in Blender and in every backend started now."""
    dirs = {name: tmp_path / name for name in ("home", "tmp", "guard", "out", "log")}
    for folder in dirs.values():
        folder.mkdir()
    (dirs["guard"] / "sitecustomize.py").write_text(GUARD)
    blender.client.shutdown_backend()  # the next backend inherits the sealed environment
    for name in [n for n in os.environ if n.startswith("XDG_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(dirs["home"]))
    monkeypatch.setenv("TMPDIR", str(dirs["tmp"]))
    monkeypatch.setenv("PYTHONPATH", str(dirs["guard"]))
    monkeypatch.setenv("DIMGESTURE_GUARD_LOADED", str(dirs["log"] / "guard-loaded"))
    monkeypatch.setenv("DIMGESTURE_NET_LOG", str(dirs["log"] / "network-attempts"))
    monkeypatch.setattr(tempfile, "tempdir", str(dirs["tmp"]))
    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args[:2])
        raise OSError("network access is blocked in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    dirs["attempts"] = attempts
    yield dirs
    blender.client.shutdown_backend()  # never leave a sealed backend behind for other tests


def test_generate_uses_no_network_and_writes_only_the_output(blender, rig, sealed, tiny_checkpoint):
    strip = bpy.context.scene.sequence_editor.strips_all["Speech"]
    strip.sound.pack()  # a packed sound goes through a temporary copy: it must be removed too
    assert strip.sound.packed_file is not None
    checkpoint_before = tree(tiny_checkpoint)
    assert bpy.ops.dimgesture.check_backend() == {"FINISHED"}
    assert bpy.ops.dimgesture.generate("EXEC_DEFAULT", True) == {"FINISHED"}
    assert bpy.ops.dimgesture.generate("EXEC_DEFAULT", True) == {"FINISHED"}
    assert tree(sealed["tmp"]) == {}  # results and the packed copy are gone once keyed
    blend = sealed["out"] / "scene.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))
    blender.client.shutdown_backend()
    assert [p.name for p in sealed["tmp"].iterdir()] == []  # the backend's own folder is gone after it exits
    assert tree(sealed["home"]) == {}
    assert list(tree(sealed["out"])) == ["scene.blend"]
    assert tree(tiny_checkpoint) == checkpoint_before
    assert (sealed["log"] / "guard-loaded").exists()  # the backend really ran under the socket guard
    assert not (sealed["log"] / "network-attempts").exists() and not sealed["attempts"]


def test_results_of_a_killed_backend_are_swept_by_the_next_one(blender, rig, sealed):
    settings = bpy.context.scene.dimgesture
    settings.steps, settings.sampler = 1000, "DDPM"
    kill = lambda job: os.kill(job.backend.pid, signal.SIGKILL)  # noqa: E731
    with watching(lambda: denoising_job(blender.operators), kill) as killer:  # the killer ends with this block
        with pytest.raises(RuntimeError, match="killed by signal 9"):
            bpy.ops.dimgesture.generate("EXEC_DEFAULT", True)
    assert killer.acted.is_set()
    assert [p.name for p in sealed["tmp"].iterdir()]  # the killed backend could not clean up after itself
    settings.steps, settings.sampler = 2, "DEFAULT"
    assert bpy.ops.dimgesture.generate("EXEC_DEFAULT", True) == {"FINISHED"}
    blender.client.shutdown_backend()
    assert [p.name for p in sealed["tmp"].iterdir()] == []
