"""Operators: Generate (speech → keys on the active armature), Cancel, Check backend.

Generate is modal in the UI: it sends one request to the warm backend process and then only
polls that request's event queue on a 0.1 s timer, so Blender never waits on the model; Esc or
the panel's Cancel button cancels. Headless (``bpy.app.background``) timers never fire, so the
same operator waits for the answer synchronously. The scene is touched only once a result has
arrived, in one step that one undo reverts: a cancel, an error or a dead backend change nothing.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

import bpy
from bpy.props import StringProperty

from ..backend import protocol
from ..backend.errors import DimGestureError
from ..backend.motion.motion import Motion
from . import bone_map, client, keyframes, preflight
from .client import BackendError
from .preflight import sound_strips
from .preferences import backend_config, get_prefs
from .settings import headless, redraw, sampler_name

TIMER_SECONDS = 0.1
CANCEL_GRACE_SECONDS = 5.0  # a backend that ignores cancel this long is stopped (and restarts next time)
HEADLESS_TIMEOUT_SECONDS = 3600.0
HELLO_TIMEOUT_SECONDS = 300.0  # Check backend: starting the process and loading the model


class GenerateJob:
    """The one running generation: what to key when its result arrives, and how far it is."""

    def __init__(self, backend: client.BackendProcess, request: client.Request, armature: str, start_frame: int,
                 clip_name: str, motion_output: str, temp_audio: str | None) -> None:
        self.backend = backend
        self.request = request
        self.armature = armature
        self.start_frame = start_frame
        self.clip_name = clip_name
        self.motion_output = motion_output
        self.temp_audio = temp_audio  # a packed sound's temporary copy, removed when the job ends
        self.cancel_requested = threading.Event()
        self.cancel_sent_at: float | None = None
        self.step = 0
        self.total = 0
        self.stage = "starting the backend"

    def close(self) -> None:
        remove_temp_audio(self.temp_audio)


def remove_temp_audio(path: str | None) -> None:
    """Delete a packed sound's temporary copy (None: the speech file is the user's own, keep it)."""
    if path:
        Path(path).unlink(missing_ok=True)


_job: GenerateJob | None = None


def active_job() -> GenerateJob | None:
    return _job


def request_cancel() -> bool:
    """Ask the running generation to stop (thread-safe: the operator acts on it at its next poll)."""
    job = _job
    if job is None:
        return False
    job.cancel_requested.set()
    return True


# --- inputs ------------------------------------------------------------------------------------------
def _sound_file(strip) -> tuple[str, bool]:
    """A readable file for the strip's sound: its own file, or (True) a temporary copy of a packed sound."""
    path = preflight.strip_sound_file(strip)
    if path is not None:
        return path, False
    sound = strip.sound
    suffix = Path(sound.filepath).suffix or ".wav"
    fd, path = tempfile.mkstemp(prefix="dimgesture-packed-", suffix=suffix)
    with os.fdopen(fd, "wb") as out:
        out.write(sound.packed_file.data)
    return path, True


def resolve_audio(scene, settings) -> tuple[str, int, str, bool]:
    """(speech file, default start frame, clip name, whether the file is a temporary copy) from the panel's audio source."""
    if settings.audio_source == "FILE":
        path = preflight.speech_file(settings)
        return path, settings.start_frame, Path(path).stem, False
    strip = preflight.chosen_strip(scene, settings)
    path, temporary = _sound_file(strip)
    return path, int(round(strip.frame_start)), strip.name, temporary


def _style_file(settings) -> str | None:
    if not settings.style_file:
        return None
    path = bpy.path.abspath(settings.style_file)
    if not os.path.isfile(path):
        raise DimGestureError(f"The style reference file does not exist: {path}")
    return path


# --- generate ------------------------------------------------------------------------------------------
class DIMGESTURE_OT_generate(bpy.types.Operator):
    """Generate speech-synchronised gesture keys on the active armature"""

    bl_idname = "dimgesture.generate"
    bl_label = "Generate gestures"
    bl_options = {"REGISTER", "UNDO"}

    motion_output: StringProperty(
        name="Save motion", default="", subtype="FILE_PATH", options={"HIDDEN", "SKIP_SAVE"},
        description="Also keep the generated motion as this .npz file (the model's skeleton, before retargeting)")

    _timer = None

    @classmethod
    def poll(cls, context):
        if _job is not None or context.window_manager.dimgesture_state.running:  # nor while Install backend runs
            return False
        problems = preflight.generate_problems(context, get_prefs(context).max_clip_minutes, full=False)
        if problems:
            cls.poll_message_set(" ".join(problems))
        return not problems

    def invoke(self, context, event):
        return self._start(context, modal=True)

    def execute(self, context):
        return self._start(context, modal=not headless(context))

    def _start(self, context, modal: bool) -> set[str]:
        global _job
        settings = context.scene.dimgesture
        armature = context.active_object
        temp_audio = None
        try:
            problems = preflight.generate_problems(context, get_prefs(context).max_clip_minutes, [self.motion_output])
            if problems:  # refused before anything starts: no backend, no temporary file, the scene as it was
                raise DimGestureError(" ".join(problems))
            audio, strip_start, clip_name, temporary = resolve_audio(context.scene, settings)
            temp_audio = audio if temporary else None
            start_frame = strip_start if settings.audio_source == "STRIP" and settings.use_strip_start else settings.start_frame
            prefs = get_prefs(context)
            backend = client.get_backend(backend_config(context))
            request = backend.send(
                "generate", audio=audio, seed=settings.seed, style_audio=_style_file(settings),
                steps=settings.steps or prefs.steps or None,
                sampler=sampler_name(settings.sampler) or sampler_name(prefs.sampler),
            )
        except DimGestureError as err:
            remove_temp_audio(temp_audio)
            self.report({"ERROR"}, str(err))
            return {"CANCELLED"}
        _job = GenerateJob(backend, request, armature.name, start_frame, clip_name, self.motion_output, temp_audio)
        state = context.window_manager.dimgesture_state
        state.running, state.progress, state.status = True, 0.0, "Starting the backend…"
        if not modal:
            return self._run_headless(context, _job)
        self._timer = context.window_manager.event_timer_add(TIMER_SECONDS, window=context.window)
        context.window_manager.modal_handler_add(self)
        return {"RUNNING_MODAL"}

    def _run_headless(self, context, job: GenerateJob) -> set[str]:
        def wait(timeout: float) -> dict:
            return client.wait_final(job.request, timeout, on_event=lambda e: self._progress(context, job, e),
                                     should_cancel=job.cancel_requested.is_set, backend=job.backend,
                                     cancel_grace=CANCEL_GRACE_SECONDS, stall=client.STALL_SECONDS)

        try:
            try:
                final = wait(HEADLESS_TIMEOUT_SECONDS)
            except KeyboardInterrupt:  # Ctrl+C in a `blender -b` terminal: cancel as Esc does in the UI
                job.cancel_requested.set()
                final = wait(CANCEL_GRACE_SECONDS + 1.0)
        except BackendError as err:
            final = {"type": "error", "kind": err.kind, "message": str(err)}
        return self._finish(context, job, final)

    def modal(self, context, event):
        job = _job
        if event.type == "ESC" and event.value == "PRESS":
            job.cancel_requested.set()
            return {"RUNNING_MODAL"}
        if event.type != "TIMER":
            return {"PASS_THROUGH"}
        if job.cancel_requested.is_set() and job.cancel_sent_at is None:
            job.backend.cancel(job.request)
            job.cancel_sent_at = time.monotonic()
            context.window_manager.dimgesture_state.status = "Cancelling…"
        for event_ in job.request.poll():
            self._progress(context, job, event_)
        final = job.request.final or client.check_timeouts(job.request, job.backend, job.cancel_sent_at,
                                                           CANCEL_GRACE_SECONDS, client.STALL_SECONDS)
        if final is None:
            return {"RUNNING_MODAL"}
        context.window_manager.event_timer_remove(self._timer)
        return self._finish(context, job, final)

    def _progress(self, context, job: GenerateJob, event: dict) -> None:
        if event["type"] != "progress":
            return
        job.step, job.total, job.stage = event["step"], event["total"], event["stage"]
        state = context.window_manager.dimgesture_state
        state.progress = job.step / max(job.total, 1)
        state.status = f"{job.stage.capitalize()}: {job.step}/{job.total}"
        redraw(context)

    def _finish(self, context, job: GenerateJob, final: dict) -> set[str]:
        global _job
        _job = None
        job.close()
        state = context.window_manager.dimgesture_state
        state.running, state.progress = False, 0.0
        redraw(context)
        if final["type"] == "error":
            if final["kind"] == "cancelled":
                state.status = "Cancelled; nothing was changed."
                self.report({"WARNING"}, state.status)
            else:
                state.status = final["message"]
                self.report({"ERROR"}, f"Gesture generation failed: {final['message']}")
            return {"CANCELLED"}
        try:
            action, motion = self._apply(context, job, final["path"])
        except (DimGestureError, ValueError) as err:
            state.status = str(err)
            self.report({"ERROR"}, f"Could not key the generated motion: {err}")
            return {"CANCELLED"}
        state.status = (f"{motion.duration:.1f} s of gestures keyed on '{job.armature}' from frame {job.start_frame} "
                        f"(action '{action.name}').")
        self.report({"INFO"}, state.status)
        return {"FINISHED"}

    def _apply(self, context, job: GenerateJob, path: str):
        try:
            motion = Motion.load_npz(path)
            if job.motion_output:
                shutil.copyfile(path, bpy.path.abspath(job.motion_output))
        finally:
            if Path(path).parent.name.startswith(protocol.RESULTS_PREFIX):  # handed over: don't let the backend's folder fill up
                Path(path).unlink(missing_ok=True)
        armature = bpy.data.objects.get(job.armature)
        if armature is None or armature.type != "ARMATURE":
            raise DimGestureError(f"The armature '{job.armature}' no longer exists.")
        settings = context.scene.dimgesture
        action = keyframes.apply_motion_to_armature(
            context, armature, motion, job.start_frame, bone_map.bone_map_for(armature, motion.skeleton),
            root_motion=settings.root_motion, smoothing=settings.smoothing, action_name=job.clip_name)
        return action, motion


class DIMGESTURE_OT_cancel(bpy.types.Operator):
    """Stop the running gesture generation (nothing is changed)"""

    bl_idname = "dimgesture.cancel"
    bl_label = "Cancel"

    @classmethod
    def poll(cls, context):
        return _job is not None

    def execute(self, context):
        request_cancel()
        return {"FINISHED"}


@bpy.app.handlers.persistent
def cancel_on_file_load(*_args) -> None:
    """Loading a file ends modal operators without telling them: cancel their request, forget the job."""
    global _job
    job, _job = _job, None
    if job is not None:
        job.backend.cancel(job.request)
        job.close()


# --- check backend -----------------------------------------------------------------------------------
def describe_hello(hello: dict) -> str:
    """The hello answer as short lines for the preferences box."""
    versions = hello.get("versions", {})
    lines = [f"Backend ready on {hello['device']} (protocol {hello['protocol']}, Python {versions.get('python', '?')}, "
             f"PyTorch {versions.get('torch', '?')})"]
    model = hello.get("model")
    if model:
        details = ", ".join(f"{k}: {v}" for k, v in model.items() if k != "checkpoint")
        lines += [f"Model: {model.get('checkpoint', '?')}", details]
    else:
        lines.append(f"No model loaded: {hello.get('model_error', 'unknown reason')}")
    return "\n".join(line for line in lines if line)


class DIMGESTURE_OT_check_backend(bpy.types.Operator):
    """Start the backend and show what it reports (device, model)"""

    bl_idname = "dimgesture.check_backend"
    bl_label = "Check backend"

    _timer = None
    _request: client.Request | None = None
    _deadline = 0.0

    def execute(self, context):
        state = context.window_manager.dimgesture_state
        try:
            backend = client.get_backend(backend_config(context, check_checkpoint=False))
            self._request = backend.send("hello")
        except DimGestureError as err:
            state.backend_info = str(err)
            self.report({"ERROR"}, str(err))
            return {"CANCELLED"}
        state.backend_info = "Starting the backend and loading the model…"
        self._deadline = time.monotonic() + HELLO_TIMEOUT_SECONDS
        if headless(context):
            try:
                return self._finish(context, client.wait_final(self._request, HELLO_TIMEOUT_SECONDS, backend=backend))
            except BackendError as err:
                return self._finish(context, {"type": "error", "kind": err.kind, "message": str(err)})
        self._timer = context.window_manager.event_timer_add(TIMER_SECONDS, window=context.window)
        context.window_manager.modal_handler_add(self)
        return {"RUNNING_MODAL"}

    def modal(self, context, event):
        if event.type != "TIMER":
            return {"PASS_THROUGH"}
        self._request.poll()
        final = self._request.final
        if final is None and time.monotonic() > self._deadline:
            final = {"type": "error", "kind": "timeout",
                     "message": f"The backend did not answer within {HELLO_TIMEOUT_SECONDS:.0f} s."}
        if final is None:
            return {"RUNNING_MODAL"}
        context.window_manager.event_timer_remove(self._timer)
        return self._finish(context, final)

    def _finish(self, context, final: dict) -> set[str]:
        state = context.window_manager.dimgesture_state
        redraw(context)
        if final["type"] == "error":
            state.backend_info = final["message"]
            self.report({"ERROR"}, final["message"])
            return {"CANCELLED"}
        state.backend_info = describe_hello(final)
        self.report({"INFO"}, state.backend_info.splitlines()[0])
        return {"FINISHED"}


classes = (DIMGESTURE_OT_generate, DIMGESTURE_OT_cancel, DIMGESTURE_OT_check_backend)
