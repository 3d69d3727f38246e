"""'Install backend': a virtual environment in the extension's user folder with the backend's packages.

Blender's Python cannot run the model (no PyTorch), and pip must never touch Blender's own
site-packages, so the backend gets its own venv. The work runs in a thread, one step after the
other (create the venv, pip install the bundled requirements, check that the backend starts);
the operator shows pip's latest line and the step as a progress bar, and never blocks the UI.
"""

from __future__ import annotations

import queue
import subprocess
import sys
import threading
from pathlib import Path

import bpy

from .client import last_error_line
from .preferences import EXTENSION_ROOT, install_venv_dir, venv_python
from .settings import headless, redraw

REQUIREMENTS = EXTENSION_ROOT / "backend" / "requirements.txt"


class Installer:
    """Runs the install steps in a thread; ``lines`` carries their output, ``error`` the failure in words."""

    def __init__(self, venv: Path, requirements: Path = REQUIREMENTS, base_python: str = sys.executable) -> None:
        self.venv = Path(venv)
        python = str(venv_python(self.venv))
        self.steps = [
            ("Creating the virtual environment", [base_python, "-m", "venv", str(self.venv)]),
            ("Installing the backend's packages (PyTorch is large: this takes a while)",
             [python, "-m", "pip", "install", "--disable-pip-version-check", "--progress-bar", "off", "-r", str(requirements)]),
            ("Checking that the backend starts", [python, "-c", "import torch, backend.server; print('torch', torch.__version__)"]),
        ]
        self.lines: queue.Queue[str] = queue.Queue()
        self.step = 0
        self.error: str | None = None
        self._thread = threading.Thread(target=self._run, name="dimgesture-install", daemon=True)

    def start(self) -> Installer:
        self._thread.start()
        return self

    @property
    def done(self) -> bool:
        return not self._thread.is_alive() and (self.error is not None or self.step == len(self.steps))

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def _run(self) -> None:
        for index, (title, cmd) in enumerate(self.steps):
            self.lines.put(title)
            tail: list[str] = []
            try:
                proc = subprocess.Popen(cmd, cwd=EXTENSION_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            except OSError as err:
                self.error = f"{title} failed: could not run {cmd[0]} ({err.strerror or err})"
                return
            for line in proc.stdout:
                line = line.rstrip()
                if line:
                    tail = (tail + [line])[-5:]
                    self.lines.put(line)
            if proc.wait() != 0:
                self.error = f"{title} failed (exit code {proc.returncode}): {last_error_line(tail)}"
                return
            self.step = index + 1


class DIMGESTURE_OT_install_backend(bpy.types.Operator):
    """Create a Python environment with PyTorch for the backend (in the extension's user folder)"""

    bl_idname = "dimgesture.install_backend"
    bl_label = "Install backend"

    _installer: Installer | None = None
    _timer = None

    def _update(self, context) -> None:
        state = context.window_manager.dimgesture_state
        while True:
            try:
                state.status = self._installer.lines.get_nowait()[:200]
            except queue.Empty:
                break
        state.progress = self._installer.step / len(self._installer.steps)

    def _finish(self, context) -> set[str]:
        state = context.window_manager.dimgesture_state
        state.running = False
        if self._installer.error:
            self.report({"ERROR"}, self._installer.error)
            state.status = self._installer.error
            return {"CANCELLED"}
        state.status = f"Backend installed in {self._installer.venv}"
        self.report({"INFO"}, state.status)
        return {"FINISHED"}

    def execute(self, context):
        if context.window_manager.dimgesture_state.running:
            self.report({"ERROR"}, "A DiM-Gesture job is already running; wait for it or cancel it first.")
            return {"CANCELLED"}
        if not getattr(bpy.app, "online_access", True):  # the user's choice in Preferences > System > Network
            self.report({"ERROR"}, "Install backend downloads Python packages with pip, and online access is off "
                        "(Preferences > System > Network). Allow it, or install the backend yourself and set "
                        "Backend Python.")
            return {"CANCELLED"}
        self._installer = Installer(install_venv_dir(create=True)).start()
        context.window_manager.dimgesture_state.running = True
        if headless(context):  # no event loop: timers never fire, so wait here
            self._installer.join()
            self._update(context)
            return self._finish(context)
        self._timer = context.window_manager.event_timer_add(0.2, window=context.window)
        context.window_manager.modal_handler_add(self)
        return {"RUNNING_MODAL"}

    def modal(self, context, event):
        if event.type != "TIMER":
            return {"PASS_THROUGH"}
        self._update(context)
        redraw(context)
        if not self._installer.done:
            return {"RUNNING_MODAL"}
        context.window_manager.event_timer_remove(self._timer)
        return self._finish(context)


classes = (DIMGESTURE_OT_install_backend,)
