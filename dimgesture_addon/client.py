"""The backend process seen from Blender: start it, talk to it, keep it warm, restart it, stop it.

Pure Python (no bpy), like Rhubarb Lip Sync NG's process wrapper: the process is started
without a shell as ``[python, "-m", "backend.server", ...]`` in the extension folder; one
reader thread turns its stdout lines into events on per-request queues, another keeps the
last stderr lines so a crash can be explained. The operators only ever poll queues, so
Blender's UI never waits on a pipe.
"""

from __future__ import annotations

import atexit
import collections
import itertools
import logging
import os
import queue
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

from ..backend import protocol
from ..backend.errors import DimGestureError

log = logging.getLogger(__name__)

FINAL_EVENTS = ("result", "error", "hello")
HEARTBEAT_SECONDS = 2.0  # the server repeats a running job's progress this often (``--heartbeat``)
STALL_SECONDS = 30.0  # silence this long from a backend that has answered before means it hangs


def last_error_line(lines) -> str:
    """The most telling line of a failed program's output: its last error line (e.g. "ModuleNotFoundError: No module
    named 'torch'"), else its last line."""
    lines = [line.strip() for line in lines if line.strip()]
    return next((line for line in reversed(lines) if "error" in line.lower()), lines[-1] if lines else "")


class BackendError(DimGestureError):
    """The backend could not be started, stopped answering, or crashed (message in plain words)."""

    kind = "backend"

    def __init__(self, message: str, kind: str = "backend") -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class BackendConfig:
    """Everything that decides which backend process we need; a change means a new process."""

    python: str
    root: str  # the extension folder: the working directory, so `-m backend.server` finds the bundled code
    checkpoint: str | None = None
    device: str = "auto"
    env: tuple[tuple[str, str], ...] = field(default=())

    def command(self) -> list[str]:
        cmd = [self.python, "-m", "backend.server", "--device", self.device, "--heartbeat", f"{HEARTBEAT_SECONDS:g}"]
        if self.checkpoint:
            cmd += ["--checkpoint", self.checkpoint]
        return cmd


class Request:
    """The events of one request, in order, as the reader thread delivers them."""

    def __init__(self, ident: str) -> None:
        self.id = ident
        self.events: queue.Queue[dict] = queue.Queue()
        self.final: dict | None = None
        self.last_event: float | None = None  # monotonic time of the latest event

    def _deliver(self, event: dict) -> None:
        self.last_event = time.monotonic()
        self.events.put(event)

    def stalled(self, seconds: float) -> bool:
        """Whether the backend has answered this request before and then said nothing for ``seconds``
        (its heartbeat keeps a working backend talking; before its first event, it may still be starting)."""
        return self.last_event is not None and self.final is None and time.monotonic() - self.last_event > seconds

    def poll(self) -> list[dict]:
        """All events that arrived since the last call (never blocks)."""
        out = []
        while True:
            try:
                event = self.events.get_nowait()
            except queue.Empty:
                return out
            out.append(event)
            if event["type"] in FINAL_EVENTS:
                self.final = event

    def wait(self, timeout: float) -> dict | None:
        """The next event, or None after ``timeout`` seconds."""
        try:
            event = self.events.get(timeout=timeout)
        except queue.Empty:
            return None
        if event["type"] in FINAL_EVENTS:
            self.final = event
        return event

    @property
    def done(self) -> bool:
        return self.final is not None


class BackendProcess:
    """One running ``backend.server``: send requests, route its events to their requests."""

    STDERR_LINES = 40

    def __init__(self, config: BackendConfig) -> None:
        self.config = config
        self._ids = itertools.count(1)
        self._pending: dict[str, Request] = {}
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._stderr_tail: collections.deque[str] = collections.deque(maxlen=self.STDERR_LINES)
        self._proc = self._spawn()
        self._threads = [
            threading.Thread(target=self._read_stdout, name="dimgesture-backend-stdout", daemon=True),
            threading.Thread(target=self._read_stderr, name="dimgesture-backend-stderr", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def _spawn(self) -> subprocess.Popen:
        cmd = self.config.command()
        if not os.path.isfile(self.config.python):
            raise BackendError(f"The backend Python {self.config.python!r} does not exist. Set it in the add-on preferences "
                               "or use 'Install backend'.", "setup")
        env = dict(os.environ)
        env.update(self.config.env)
        env["PYTHONUNBUFFERED"] = "1"
        env.pop("PYTHONHOME", None)  # Blender's own Python home must not leak into another interpreter
        kwargs: dict = {}
        if os.name == "nt":
            kwargs["creationflags"] = subprocess.CREATE_NO_WINDOW
        else:
            kwargs["start_new_session"] = True  # Ctrl+C in Blender's terminal must not kill a running job
        log.info("starting backend: %s (in %s)", cmd, self.config.root)
        try:
            return subprocess.Popen(cmd, cwd=self.config.root, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, **kwargs)
        except OSError as err:
            raise BackendError(f"Could not start the backend with {self.config.python!r}: {err.strerror or err}", "setup") from err

    # --- reader threads -----------------------------------------------------------------------
    def _read_stdout(self) -> None:
        invalid = None
        # Bounded reads: a line over the limit fails at once instead of filling Blender's memory.
        for line in iter(lambda: self._proc.stdout.readline(protocol.MAX_LINE_BYTES + 1), b""):
            try:
                event = protocol.decode(line, request=False)
            except protocol.ProtocolError as err:
                # The server keeps stdout for protocol lines only, so anything else means it is broken.
                log.warning("backend sent an invalid line (%s): %r", err, line[:200])
                invalid = f"The backend sent output that is not a DiM-Gesture message ({err}); it was stopped."
                self._proc.kill()
                break
            with self._lock:
                if event["id"] is None:
                    targets = list(self._pending.values())
                    if event["type"] in FINAL_EVENTS:
                        self._pending = {}
                else:
                    targets = [self._pending.get(event["id"])]
                    if event["type"] in FINAL_EVENTS:
                        self._pending.pop(event["id"], None)
            for request in targets:
                if request is not None:
                    request._deliver(event)
        kind, message = ("protocol", invalid) if invalid else ("backend_crashed", self._exit_message())
        with self._lock:
            pending, self._pending = list(self._pending.values()), {}
        for request in pending:
            request._deliver({"id": request.id, "type": "error", "kind": kind, "message": message})

    def _read_stderr(self) -> None:
        for raw in self._proc.stderr:
            line = raw.decode("utf-8", errors="replace").rstrip()
            self._stderr_tail.append(line)
            print(line, file=sys.stderr)  # the backend's log belongs in Blender's console

    def _exit_message(self) -> str:
        """Why the process is gone, in words (waits for it, and for the stderr tail that usually explains it)."""
        code = self._proc.wait()
        self._threads[1].join(timeout=2)
        reason = last_error_line(self._stderr_tail)
        how = f"exit code {code}" if code >= 0 else f"killed by signal {-code}"
        text = f"The backend process stopped unexpectedly ({how})."
        if reason:
            text += f" Last message: {reason}"
        return text

    # --- requests -----------------------------------------------------------------------------
    @property
    def pid(self) -> int:
        return self._proc.pid

    @property
    def alive(self) -> bool:
        return self._proc.poll() is None

    def _write(self, msg: dict) -> None:
        line = protocol.encode(msg, request=True)
        try:
            with self._write_lock:
                self._proc.stdin.write(line)
                self._proc.stdin.flush()
        except (BrokenPipeError, OSError, ValueError) as err:
            raise BackendError(self._exit_message(), "backend_crashed") from err

    def send(self, kind: str, **fields) -> Request:
        """Send a ``hello`` or ``generate`` request; its events arrive on the returned Request."""
        request = Request(f"r{next(self._ids)}")
        with self._lock:
            alive = self.alive
            if alive:
                self._pending[request.id] = request
        if not alive:
            raise BackendError(self._exit_message(), "backend_crashed")
        try:
            self._write({"id": request.id, "type": kind, **{k: v for k, v in fields.items() if v is not None}})
        except Exception:
            with self._lock:
                self._pending.pop(request.id, None)
            raise
        return request

    def cancel(self, request: Request) -> None:
        """Ask the backend to stop ``request``; its answer is an ``error`` event of kind ``cancelled``."""
        if self.alive and not request.done:
            try:
                self._write({"id": request.id, "type": "cancel"})
            except BackendError:
                pass  # it died anyway: the reader thread reports that on the request

    def hello(self, timeout: float = 120.0) -> dict:
        """Ask the backend who it is (waits; the first call also loads the model)."""
        request = self.send("hello")
        event = request.wait(timeout)
        if event is None:
            raise BackendError(f"The backend did not answer within {timeout:.0f} s.", "timeout")
        if event["type"] == "error":
            raise BackendError(event["message"], event["kind"])
        return event

    def stop(self, timeout: float = 3.0) -> None:
        """Ask for a clean exit, then terminate, then kill: never leave a process behind."""
        if self.alive:
            try:
                self._write({"id": "shutdown", "type": "shutdown"})
                self._proc.stdin.close()
            except (BackendError, OSError, ValueError):
                pass
        for action in (None, self._proc.terminate, self._proc.kill):
            if action is not None and self._proc.poll() is None:
                action()
            try:
                self._proc.wait(timeout=timeout)
                break
            except subprocess.TimeoutExpired:
                continue
        for thread in self._threads:  # the process is gone: its pipes are at EOF and the readers end now
            if thread is not threading.current_thread():
                thread.join(timeout=2.0)
        for stream in (self._proc.stdin, self._proc.stdout, self._proc.stderr):
            try:
                stream.close()
            except (OSError, ValueError):
                pass


# --- the one warm backend of this Blender session ------------------------------------------------
_current: BackendProcess | None = None
_current_lock = threading.Lock()


def get_backend(config: BackendConfig) -> BackendProcess:
    """The running backend for ``config``: reused while alive, (re)started after a crash or a settings change."""
    global _current
    with _current_lock:
        if _current is not None and (_current.config != config or not _current.alive):
            log.info("backend %s; starting a new one", "settings changed" if _current.alive else "is gone")
            _current.stop()
            _current = None
        if _current is None:
            _current = BackendProcess(config)
        return _current


def current_backend() -> BackendProcess | None:
    return _current


def shutdown_backend() -> None:
    """Stop the backend (on unregister and at Blender exit)."""
    global _current
    with _current_lock:
        if _current is not None:
            _current.stop()
            _current = None


def check_timeouts(request: Request, backend: BackendProcess | None, cancel_sent_at: float | None, grace: float,
                   stall: float | None) -> dict | None:
    """The error event that ends ``request`` now (never blocks), or None while it may go on: a cancel sent
    more than ``grace`` seconds ago that the backend ignored, or ``stall`` seconds of silence. Either way the
    ``backend`` is stopped, with a short wait (this may run on the UI thread); the next run starts a new one."""
    if request.final is not None:
        return None
    if cancel_sent_at is not None and time.monotonic() - cancel_sent_at > grace:
        kind, message = "cancelled", "The backend did not stop in time and was stopped; nothing was changed."
    elif stall is not None and request.stalled(stall):
        kind, message = "stalled", stalled_message(stall)
    else:
        return None
    if backend is not None:
        backend.stop(timeout=1.0)
    return {"id": request.id, "type": "error", "kind": kind, "message": message}


def wait_final(request: Request, timeout: float, on_event=None, should_cancel=None, backend: BackendProcess | None = None,
               cancel_grace: float = 5.0, stall: float | None = None) -> dict:
    """Block until ``request`` ends (headless use); ``should_cancel()`` True sends one cancel. A ``backend``
    that has not stopped ``cancel_grace`` seconds later, not answered within ``timeout``, or gone silent for
    ``stall`` seconds, is stopped (the next run starts a new one)."""
    deadline = time.monotonic() + timeout
    cancelled_at = None
    while not request.done:
        now = time.monotonic()
        if now > deadline:
            if backend is not None:  # stuck: the next run must get a fresh process, not this one
                backend.stop(timeout=1.0)
            raise BackendError(f"The backend did not finish within {timeout:.0f} s and was stopped.", "timeout")
        if cancelled_at is None and should_cancel is not None and should_cancel() and backend is not None:
            backend.cancel(request)
            cancelled_at = now
        error = check_timeouts(request, backend, cancelled_at, cancel_grace, stall)
        if error is not None:
            raise BackendError(error["message"], error["kind"])
        event = request.wait(0.05)
        if event is not None and on_event is not None:
            on_event(event)
    return request.final


def stalled_message(seconds: float) -> str:
    return (f"The backend stopped responding (no word from it for {seconds:.0f} s) and was stopped; "
            "the next Generate starts a new one.")


atexit.register(shutdown_backend)
