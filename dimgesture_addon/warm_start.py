"""Start the backend before the first Generate: when the panel is first drawn, or a file with an armature loads.

Why: a cold backend spends seconds starting Python, importing PyTorch and loading the model before the first
progress appears. Warming starts the very process Generate uses (``client.get_backend`` with the same
configuration) and sends it a ``hello``, which loads the model, without waiting for the answer; Generate's
request then queues behind it. "Start backend early" in the preferences turns it off. Background sessions
(``blender -b``) never warm: no panel is drawn there, and their first Generate starts the backend anyway.
The backend stops on unregister and at Blender exit (``client``), like any other.
"""

from __future__ import annotations

import logging

import bpy

from . import client
from .client import BackendError
from .preferences import backend_config, get_prefs

log = logging.getLogger(__name__)

_drawn = False  # the panel warmed once this session; later draws do not restart a backend stopped since


def interactive() -> bool:
    return not bpy.app.background


def warm_start(context=None) -> client.BackendProcess | None:
    """The backend for the current preferences, started (if needed) and asked to load its model; None when warming
    is off or no backend can start yet (Generate explains why when it is pressed). Never raises, never waits."""
    try:
        if not get_prefs(context).warm_start:
            return None
        config = backend_config(context)
        current = client.current_backend()
        if current is not None and current.config == config and current.alive:
            return current
        backend = client.get_backend(config)
        backend.send("hello")
    except (BackendError, KeyError) as err:  # no backend Python or checkpoint yet / extension being removed
        log.info("backend not started early: %s", err)
        return None
    return backend


def on_panel_draw(context) -> None:
    """Called by the panel's ``draw``: the first draw of a session starts the backend (a process spawn and one
    line written, milliseconds; a bpy timer would outlive an unregister in background Blender)."""
    global _drawn
    if not _drawn and interactive():
        _drawn = True
        warm_start(context)


@bpy.app.handlers.persistent
def on_file_loaded(*_args) -> None:
    """``load_post``: a file with an armature is likely to be animated next."""
    if interactive() and any(obj.type == "ARMATURE" for obj in bpy.data.objects):
        warm_start()


def register() -> None:
    bpy.app.handlers.load_post.append(on_file_loaded)


def unregister() -> None:
    global _drawn
    if on_file_loaded in bpy.app.handlers.load_post:
        bpy.app.handlers.load_post.remove(on_file_loaded)
    _drawn = False
