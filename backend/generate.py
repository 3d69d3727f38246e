"""``dimgesture generate AUDIO... -o OUT``: speech clips → gesture motion as BVH and/or NPZ.

``OUT`` is a folder (one ``<clip name>.bvh``/``.npz`` per clip) or, for a single clip, a file
name ending in ``.bvh`` or ``.npz``, written exactly as given (``talk.v2.bvh`` stays ``talk.v2.bvh``).
Files that already exist are refused before any work unless ``--overwrite`` is given. Without
``--checkpoint`` the bundled demo model (``checkpoints/demo`` in the repository) is used. A folder
of clips or ``--manifest FILE`` runs the batch runner (``batch_run``): several clips per pass,
resumable, sharded under ``accelerate launch``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from .errors import DimGestureError
from .model.config import SAMPLERS
from .outputs import check_outputs, output_paths, preview_paths, write_outputs
from .protocol import DEVICES

__all__ = ["add_arguments", "run"]

FORMATS = ("bvh", "npz", "both")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("audio", nargs="*", help="speech clip(s): WAV, FLAC or OGG, any rate (resampled to 16 kHz), "
                        "or one folder of them (batch run)")
    parser.add_argument("-o", "--output", metavar="OUT",
                        help="output folder, or for one clip a file name ending in .bvh or .npz")
    batch = parser.add_argument_group("batch runs (a folder or --manifest; shard with 'accelerate launch -m backend generate')")
    batch.add_argument("--manifest", metavar="FILE", help="CSV (with a header) or JSON lines: audio, optional output, "
                       "style and seed per clip; relative paths from the manifest's folder")
    batch.add_argument("--batch-size", type=int, default=8, help="clips per denoiser pass (default 8)")
    parser.add_argument("--format", choices=FORMATS, default=None,
                        help="what to write (default: from OUT's extension, else bvh)")
    parser.add_argument("--checkpoint", metavar="DIR", help="model folder (default: the bundled demo model)")
    parser.add_argument("--seed", type=int, default=0, help="random seed; the same seed gives the same motion (default 0)")
    parser.add_argument("--steps", type=int, help="denoising steps (default: the checkpoint's)")
    parser.add_argument("--sampler", choices=SAMPLERS, help="sampler (default: the checkpoint's)")
    parser.add_argument("--guidance", type=float, help="classifier-free guidance scale on the audio (default: the checkpoint's)")
    parser.add_argument("--style-audio", metavar="CLIP", help="take the gesture style from this clip instead of the speech itself")
    parser.add_argument("--style-strength", type=float, metavar="S",
                        help="how strongly the style clip (--style-audio, or a manifest's style column) is followed: "
                             "1 as trained, more to exaggerate it, 0 to ignore it (default: the checkpoint's)")
    parser.add_argument("--device", choices=DEVICES, default="auto", help="where to run (default: cuda if available)")
    parser.add_argument("--fps", type=float, help="output frame rate (default: the model's)")
    parser.add_argument("--pass-seconds", "--window-seconds", dest="pass_seconds", type=float,
                        help="generate long clips in overlapping passes of this length (bounds memory); "
                             "--window-seconds is its old, deprecated name")
    parser.add_argument("--preview", metavar="FILE.gif|FILE.mp4",
                        help="also draw a stick-figure animation (several clips: one file per clip, suffixed with its name)")
    parser.add_argument("--overwrite", action="store_true", help="replace output files that already exist (default: refuse "
                        "for single clips; a batch run skips clips whose outputs exist, so it resumes)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    audio = [Path(a) for a in args.audio]
    if args.manifest or (len(audio) == 1 and audio[0].is_dir()):
        return _run_batch(args, audio)
    if not audio:
        raise DimGestureError("give speech clip(s), a folder of clips or --manifest FILE")
    if not args.output:
        raise DimGestureError("-o OUT is required (an output folder, or for one clip a .bvh/.npz file name)")
    return _run_clips(args, audio)


def _check_options(args: argparse.Namespace) -> None:
    if args.steps is not None and args.steps < 1:
        raise DimGestureError(f"--steps must be >= 1, got {args.steps}")
    if args.fps is not None and args.fps <= 0:
        raise DimGestureError(f"--fps must be positive, got {args.fps}")


def _run_batch(args: argparse.Namespace, audio: list[Path]) -> int:
    from . import batch_run

    if args.manifest and audio:
        raise DimGestureError("give either clips or --manifest, not both")
    if args.preview or args.style_audio or args.pass_seconds:
        raise DimGestureError("--preview, --style-audio and --pass-seconds are for single clips; a manifest has a style column")
    _check_options(args)
    output = Path(args.output) if args.output else None
    if args.manifest:
        jobs = batch_run.read_manifest(Path(args.manifest), output, args.format, args.seed)
    elif output is None:
        raise DimGestureError("-o OUT is required: the folder the clips' motion goes to")
    else:
        jobs = batch_run.folder_jobs(audio[0], output, args.format, args.seed)
    return batch_run.run(args, jobs)


def sampling_options(args: argparse.Namespace) -> dict:
    """The sampling options single-clip and batch runs share; guidance and style strength only when
    given, so the checkpoint's defaults apply otherwise."""
    options = {"steps": args.steps, "sampler": args.sampler, "fps": args.fps}
    if args.guidance is not None:
        options["guidance_scale"] = args.guidance
    if args.style_strength is not None:
        options["style_scale"] = args.style_strength
    return options


def _run_clips(args: argparse.Namespace, audio: list[Path]) -> int:
    from tqdm.auto import tqdm

    for path in audio:
        if not path.is_file():
            raise DimGestureError(f"{path}: audio file not found")
    if args.style_audio and not Path(args.style_audio).is_file():
        raise DimGestureError(f"--style-audio {args.style_audio}: file not found")
    _check_options(args)
    outputs = output_paths(audio, Path(args.output), args.format)
    previews = preview_paths(audio, Path(args.preview)) if args.preview else [None] * len(audio)
    if args.preview and Path(args.preview).suffix.lower() not in (".gif", ".mp4"):
        raise DimGestureError(f"--preview {args.preview}: use a .gif or .mp4 file name")
    check_outputs([p for files in outputs for p in files] + [p for p in previews if p is not None], args.overwrite)

    from .pipeline import GesturePipeline

    pipe = GesturePipeline.from_pretrained(args.checkpoint, args.device)
    options = {"seed": args.seed, "style_audio": args.style_audio, "pass_seconds": args.pass_seconds,
               **sampling_options(args)}
    for clip, files, preview in zip(audio, outputs, previews):
        expected = args.steps or pipe.scheduler.config.steps  # runs in several passes report their own total
        with tqdm(total=expected, desc=clip.name, unit="step", disable=args.no_progress, dynamic_ncols=True) as bar:
            def progress(step: int, total: int, stage: str) -> None:
                bar.total = total
                bar.set_postfix_str(stage, refresh=False)
                bar.update(step - bar.n)

            motion = pipe(clip, progress=progress, **options)
        write_outputs(motion, files)
        print(*files, sep="\n")
        if preview is not None:
            from .preview import write_preview

            print(write_preview(motion, preview, title=clip.name))
    return 0
