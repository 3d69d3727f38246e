"""The Blender side of DiM-Gesture (imports bpy, never torch).

Registration follows Blender's glTF add-on: one ``classes`` tuple registered in one loop,
then the modules that attach properties or commands. The backend process is stopped on
unregister and, through ``client``'s atexit hook, when Blender exits; ``warm_start`` may start it early.
"""

import bpy

from . import (bone_map, cli_command, client, install_backend, operators, panel, preferences, scene_batch, settings, takes,
               warm_start)

classes = (
    *settings.classes,
    *takes.classes,
    *scene_batch.classes,
    *preferences.classes,
    *operators.classes,
    *install_backend.classes,
    *panel.classes,
)

_modules = (settings, bone_map, cli_command, takes, scene_batch, warm_start)


def register() -> None:
    for cls in classes:
        bpy.utils.register_class(cls)
    for module in _modules:
        module.register()
    bpy.app.handlers.load_pre.append(operators.cancel_on_file_load)


def unregister() -> None:
    if operators.cancel_on_file_load in bpy.app.handlers.load_pre:
        bpy.app.handlers.load_pre.remove(operators.cancel_on_file_load)
    operators.cancel_on_file_load()
    client.shutdown_backend()
    for module in reversed(_modules):
        module.unregister()
    for cls in reversed(classes):
        bpy.utils.unregister_class(cls)
