"""DiM-Gesture backend: speech → gesture motion (PyTorch side).

Keep this module free of heavy imports: the Blender add-on imports the numpy-only
subpackages ``backend.motion`` and ``backend.protocol`` without torch.
"""

__version__ = "0.1.0"
