"""Blender extension entry point: the repository root is the extension package.

Only re-exports ``register``/``unregister``; everything else lives in ``dimgesture_addon``
(Blender side) and ``backend`` (PyTorch side, run in a separate process). Outside Blender
(e.g. when pytest walks the tree) ``bpy`` is missing and nothing is exported.
"""

try:
    import bpy  # noqa: F401
except ImportError:  # imported outside Blender
    pass
else:
    from .dimgesture_addon import register, unregister  # noqa: F401
