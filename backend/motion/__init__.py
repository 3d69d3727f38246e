"""Motion math in plain numpy (no torch, no bpy): shared by the backend and the Blender add-on."""
