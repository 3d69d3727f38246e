"""First and second Generate in real Blender (the bpy wheel), run by ``dimgesture bench --sections scale``.

Why: the figure an animator feels is the first press of Generate, which starts the backend process,
imports PyTorch and loads the model before any progress shows. This enables the extension the way
Blender does (as ``make demo``), puts ``--seconds`` of the bundled speech on the timeline of a demo
rig and times: the first Generate (cold backend), the second (warm), and, after stopping the
backend, the add-on's warm start (what drawing the panel or opening a rigged file does) followed,
once the model is loaded, by a first Generate. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="speech on the timeline")
    parser.add_argument("--checkpoint", type=Path, default=ROOT / "checkpoints" / "demo")
    args = parser.parse_args(argv)
    from blender_extension import enable_extension, use_throwaway_user_resources

    use_throwaway_user_resources("dimgesture-bench-generate-")
    import bpy
    import numpy as np
    import soundfile as sf

    from demo import PACKAGE, REPO_MODULE

    enable_extension(bpy, ROOT, REPO_MODULE)
    addon = importlib.import_module(f"{PACKAGE}.dimgesture_addon")
    rig_builder = importlib.import_module(f"{PACKAGE}.dimgesture_addon.rig_builder")
    compat = importlib.import_module(f"{PACKAGE}.dimgesture_addon.compat")
    wave, rate = sf.read(ROOT / "assets" / "demo_speech.wav", dtype="float32")
    with tempfile.TemporaryDirectory(prefix="dimgesture-bench-") as tmp:
        clip = Path(tmp) / "speech.wav"
        sf.write(clip, np.resize(wave, int(args.seconds * rate)), rate)
        bpy.ops.wm.read_homefile(use_empty=True, use_factory_startup=True)
        prefs = bpy.context.preferences.addons[PACKAGE].preferences
        prefs.checkpoint_dir, prefs.device = str(args.checkpoint.resolve()), "CPU"
        scene = bpy.context.scene
        scene.render.fps, scene.render.fps_base = 30, 1.0
        rig_builder.build_demo_rig(bpy.context, "BenchRig")
        scene.sequence_editor_create()
        strip = compat.sequencer_strips(scene).new_sound("Speech", str(clip), channel=1, frame_start=1)
        scene.dimgesture.strip_name = strip.name

        def generate() -> float:
            start = time.perf_counter()
            result = bpy.ops.dimgesture.generate()
            if result != {"FINISHED"}:
                raise RuntimeError(f"Generate returned {result}")
            return time.perf_counter() - start

        addon.client.shutdown_backend()
        first, second = generate(), generate()
        addon.client.shutdown_backend()
        start = time.perf_counter()
        backend = addon.warm_start.warm_start(bpy.context)
        backend.hello(timeout=600)  # answered after the warm start's own hello: the model is loaded
        warm_up = time.perf_counter() - start
        warm_first = generate()
        bpy.ops.preferences.addon_disable(module=PACKAGE)  # stops the backend process
    print(json.dumps({"speech_seconds": args.seconds, "first_s": first, "second_s": second, "warm_up_s": warm_up,
                      "warm_first_s": warm_first, "blender": bpy.app.version_string}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
