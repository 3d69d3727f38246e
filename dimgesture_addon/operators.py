"""Operators: Generate (speech → keys on the active armature), Cancel, Check backend.

Generate is modal in the UI: it sends one request to the warm backend process and then only
polls that request's event queue on a 0.1 s timer, so Blender never waits on the model; Esc or
the panel's Cancel button cancels. Headless (``bpy.app.background``) timers never fire, so the
same operator waits for the answer synchronously. A whole scene (``whole_scene=True``) sends one
request per strip → armature pair, in turn. The scene is touched only once every result has
arrived, in one step that one undo reverts: a cancel, an error or a dead backend change nothing.
The settings are read once, into a ``request.GenerateRequest``, when Generate starts.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

import bpy
from bpy.props import BoolProperty, StringProperty

from ..backend import protocol
from ..backend.errors import DimGestureError
from ..backend.motion.motion import Motion
from ..backend.motion.skeleton import default_skeleton
from . import bone_map, client, humanoid_map, layering, preflight, scene_batch
from .client import BackendError
from .preflight import sound_strips
from .request import GenerateRequest, Target
from .preferences import backend_config, get_prefs
from .settings import headless, redraw, sampler_name

TIMER_SECONDS = 0.1
CANCEL_GRACE_SECONDS = 5.0  # a backend that ignores cancel this long is stopped (and restarts next time)
HEADLESS_TIMEOUT_SECONDS = 3600.0
HELLO_TIMEOUT_SECONDS = 300.0  # Check backend: starting the process and loading the model


class GenerateJob:
    """The one running generation: the settings taken at its start, its targets (one backend request each,
    in turn), the results so far, and how far it is."""

    def __init__(self, backend: client.BackendProcess, settings: GenerateRequest) -> None:
        self.backend = backend
        self.settings = settings
        self.index = 0  # the target whose request runs now
        self.results: list[list[str]] = []  # per finished target: one .npz per take
        self.request = backend.send("generate", **settings.backend_fields(settings.targets[0]))
        self.cancel_requested = threading.Event()
        self.cancel_sent_at: float | None = None
        self.step = 0
        self.total = 0
        self.stage = "starting the backend"

    def advance(self, final: dict) -> dict | None:
        """Take one request's final event: the event that ends the job, or None when the next target's
        request was sent (a result with targets left)."""
        if final["type"] != "result":
            return final
        self.results.append(final.get("paths") or [final["path"]])
        if len(self.results) == len(self.settings.targets):
            return final
        if self.cancel_requested.is_set():
            return {"type": "error", "kind": "cancelled", "message": "generation was cancelled"}
        self.index += 1
        try:
            self.request = self.backend.send("generate", **self.settings.backend_fields(self.settings.targets[self.index]))
        except BackendError as err:
            return {"type": "error", "kind": err.kind, "message": str(err)}
        return None

    def close(self) -> None:
        for target in self.settings.targets:
            target.remove_temp_audio()
        for paths in self.results:  # results never keyed (cancel, error): don't let the backend's folder fill up
            for path in paths:
                if Path(path).parent.name.startswith(protocol.RESULTS_PREFIX):
                    Path(path).unlink(missing_ok=True)


_job: GenerateJob | None = None  # the running operator's job, where Cancel, file loading and tests can find it


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


def keying_map(armature) -> tuple[str | None, dict[str, str]]:
    """(preset, map) Generate keys ``armature`` through (``bone_map.chosen_map``), found once per run."""
    return bone_map.chosen_map(armature, default_skeleton())


def _check_armature(armature) -> tuple[str | None, dict[str, str]]:
    """The keying map of a whole-scene target (DimGestureError for an armature Generate cannot key: the
    preflight's rig checks)."""
    problem = preflight.armature_problem(armature)
    if problem is not None:
        raise DimGestureError(problem)
    preset, mapping = keying_map(armature)
    problem = " ".join(preflight.rig_problems(armature, mapping))
    if problem:
        raise DimGestureError(problem)
    return preset, mapping


def resolve_targets(context, whole_scene: bool, keying: tuple[str | None, dict[str, str]] | None = None) -> tuple[Target, ...]:
    """The armature(s) to key, their speech and bone maps: the active armature with the panel's audio and
    ``keying`` (already checked by the preflight), or every strip → armature pair of the scene, each checked
    here. A packed sound becomes a temporary file (removed with the job)."""
    scene, settings = context.scene, context.scene.dimgesture
    if not whole_scene:
        audio, strip_start, clip_name, temporary = resolve_audio(scene, settings)
        start = strip_start if settings.audio_source == "STRIP" and settings.use_strip_start else settings.start_frame
        preset, mapping = keying
        return (Target(context.active_object.name, audio, start, clip_name, temporary, mapping, preset),)
    pairs = scene_batch.pairs(scene)
    if not pairs:
        raise DimGestureError("Add strip → armature pairs in the DiM-Gesture panel's Scene list first.")
    strips = {s.name: s for s in sound_strips(scene)}
    targets: list[Target] = []
    try:
        for strip_name, armature in pairs:
            if strip_name not in strips:
                raise DimGestureError(f"A scene pair names the sound strip '{strip_name}', which the scene '{scene.name}' lacks.")
            if armature is None:
                raise DimGestureError(f"The sound strip '{strip_name}' is paired with no armature.")
            preset, mapping = _check_armature(armature)
            strip = strips[strip_name]
            seconds = strip.frame_duration * scene.render.fps_base / scene.render.fps
            too_long = preflight.clip_length_problem(strip.name, seconds, get_prefs(context).max_clip_minutes)
            if too_long:
                raise DimGestureError(too_long)
            audio, temporary = _sound_file(strip)
            targets.append(Target(armature.name, audio, int(round(strip.frame_start)), strip.name, temporary, mapping, preset))
    except DimGestureError:
        for target in targets:
            target.remove_temp_audio()
        raise
    return tuple(targets)


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
    whole_scene: BoolProperty(
        name="Whole scene", default=False, options={"SKIP_SAVE"},
        description="Generate for every strip → armature pair of the scene in one run")

    _timer = None
    _job: GenerateJob | None = None  # this run's job (the operator owns it)

    @classmethod
    def poll(cls, context):
        if _job is not None:
            cls.poll_message_set("A gesture generation is running; wait for it or cancel it")
            return False
        if context.window_manager.dimgesture_state.running:
            cls.poll_message_set("The backend is being installed")
            return False
        if scene_batch.pairs(context.scene):  # poll cannot tell Generate from Generate scene: Generate checks itself
            return True
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
        targets: tuple[Target, ...] = ()
        prefs = get_prefs(context)
        try:
            keying = None
            if not self.whole_scene:  # refused before anything starts: no backend, no temporary file, the scene as it was
                obj = context.active_object
                keying = keying_map(obj) if preflight.armature_problem(obj) is None else (None, {})
                problems = preflight.generate_problems(context, prefs.max_clip_minutes, [self.motion_output], mapping=keying[1])
                if problems:
                    raise DimGestureError(" ".join(problems))
            targets = resolve_targets(context, self.whole_scene, keying)
            render = context.scene.render
            request = GenerateRequest.from_settings(
                settings, steps=settings.steps or prefs.steps or None,
                sampler=sampler_name(settings.sampler) or sampler_name(prefs.sampler),
                style_audio=_style_file(settings), motion_output=self.motion_output,
                fps=render.fps / render.fps_base, device=prefs.device.lower(), targets=targets)
            backend = client.get_backend(backend_config(context))
            self._job = _job = GenerateJob(backend, request)
        except DimGestureError as err:
            for target in targets:
                target.remove_temp_audio()
            self.report({"ERROR"}, str(err))
            return {"CANCELLED"}
        state = context.window_manager.dimgesture_state
        state.running, state.progress, state.status = True, 0.0, "Starting the backend…"
        if not modal:
            return self._run_headless(context, self._job)
        self._timer = context.window_manager.event_timer_add(TIMER_SECONDS, window=context.window)
        context.window_manager.modal_handler_add(self)
        return {"RUNNING_MODAL"}

    def _run_headless(self, context, job: GenerateJob) -> set[str]:
        def wait(timeout: float) -> dict:
            return client.wait_final(job.request, timeout, on_event=lambda e: self._progress(context, job, e),
                                     should_cancel=job.cancel_requested.is_set, backend=job.backend,
                                     cancel_grace=CANCEL_GRACE_SECONDS, stall=client.STALL_SECONDS)

        final = None
        while final is None:  # one request per target
            try:
                try:
                    final = wait(HEADLESS_TIMEOUT_SECONDS)
                except KeyboardInterrupt:  # Ctrl+C in a `blender -b` terminal: cancel as Esc does in the UI
                    job.cancel_requested.set()
                    final = wait(CANCEL_GRACE_SECONDS + 1.0)
            except BackendError as err:
                final = {"type": "error", "kind": err.kind, "message": str(err)}
            final = job.advance(final)
        return self._finish(context, job, final)

    def modal(self, context, event):
        job = self._job
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
        if final is not None:
            final = job.advance(final)  # a cancel or failed send between two targets ends the job here
        if final is None:
            return {"RUNNING_MODAL"}
        context.window_manager.event_timer_remove(self._timer)
        return self._finish(context, job, final)

    def _progress(self, context, job: GenerateJob, event: dict) -> None:
        if event["type"] != "progress":
            return
        job.step, job.total, job.stage = event["step"], event["total"], event["stage"]
        state = context.window_manager.dimgesture_state
        count = len(job.settings.targets)
        state.progress = (job.index + job.step / max(job.total, 1)) / count
        state.status = f"{job.stage.capitalize()}: {job.step}/{job.total}"
        if count > 1:
            state.status = f"{job.settings.targets[job.index].clip} ({job.index + 1}/{count}): {state.status}"
        redraw(context)

    def _finish(self, context, job: GenerateJob, final: dict) -> set[str]:
        global _job
        _job = self._job = None
        state = context.window_manager.dimgesture_state
        state.running, state.progress = False, 0.0
        redraw(context)
        if final["type"] == "error":
            job.close()
            if final["kind"] == "cancelled":
                state.status = "Cancelled; nothing was changed."
                self.report({"WARNING"}, state.status)
            else:
                state.status = final["message"]
                self.report({"ERROR"}, f"Gesture generation failed: {final['message']}")
            return {"CANCELLED"}
        try:
            keyed = self._apply(context, job)
        except (DimGestureError, ValueError) as err:
            state.status = str(err)
            self.report({"ERROR"}, f"Could not key the generated motion: {err}")
            return {"CANCELLED"}
        state.status = describe_keyed(keyed, reduced=job.settings.key_tolerance is not None)
        self.report({"INFO"}, state.status)
        return {"FINISHED"}

    def _apply(self, context, job: GenerateJob) -> list[tuple[Target, Motion, list[layering.KeyedTake], str]]:
        """Key every target's takes: all maths first (a failure changes nothing), then the scene in one go."""
        request = job.settings
        prepared = []
        try:
            for target, paths in zip(request.targets, job.results):
                armature = bpy.data.objects.get(target.armature)
                if armature is None or armature.type != "ARMATURE":
                    raise DimGestureError(f"The armature '{target.armature}' no longer exists.")
                motions = [Motion.load_npz(path) for path in paths]
                if request.motion_output and not prepared:
                    shutil.copyfile(paths[0], bpy.path.abspath(request.motion_output))
                skeleton = motions[0].skeleton
                if skeleton.names == default_skeleton().names:  # the map chosen (and checked) at the start
                    bones = bone_map.use_map(armature, skeleton, target.bone_map, target.bone_map_preset)
                else:  # a checkpoint with its own skeleton: match the rig to that
                    bones = bone_map.bone_map_for(armature, skeleton)
                takes_ = [layering.prepare(context, request, armature, motion, seed, target.clip, bones)
                          for motion, seed in zip(motions, request.seeds)]
                prepared.append((target, armature, motions[0], takes_, humanoid_map.still_note(bones)))
        finally:
            job.close()  # the results are read (or unreadable): remove them, and any temporary audio
        return [(target, motion, layering.place_takes(context, request, target, armature, takes_), still)
                for target, armature, motion, takes_, still in prepared]


def describe_keyed(keyed: list[tuple[Target, Motion, list[layering.KeyedTake], str]], reduced: bool = False) -> str:
    """The status line after keying: where, from which frame, which action(s), (``reduced``) the keys kept, and
    which chains a partial bone map leaves still."""
    lines = []
    for target, motion, takes_, still in keyed:
        names = ", ".join(f"'{t.action.name}'" for t in takes_)
        text = (f"{motion.duration:.1f} s of gestures keyed on '{target.armature}' from frame {target.start_frame} "
                f"({'actions' if len(takes_) > 1 else 'action'} {names}")
        text += f", NLA track{'s' if len(takes_) > 1 else ''})" if takes_[0].track is not None else ")"
        before, after = sum(t.keys_before for t in takes_), sum(t.keys_after for t in takes_)
        if reduced:
            text += f"; keys reduced from {before} to {after}"
        lines.append(f"{text}. {still}".strip())
    return " ".join(lines)


class DIMGESTURE_OT_cancel(bpy.types.Operator):
    """Stop the running gesture generation (nothing is changed)"""

    bl_idname = "dimgesture.cancel"
    bl_label = "Cancel"

    @classmethod
    def poll(cls, context):
        if _job is None:
            cls.poll_message_set("No gesture generation is running")
            return False
        return True

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
