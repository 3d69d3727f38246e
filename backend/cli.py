"""The ``dimgesture`` command line.

Each subcommand lives in its own module, which provides ``add_arguments(parser)`` and
``run(args) -> int``. Modules are imported only when their subcommand runs, so ``--help``
is instant and a broken optional dependency only affects the subcommand that needs it.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# name -> (module, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "generate": ("backend.generate", "speech clip(s) -> gesture motion (BVH / NPZ), optional preview"),
    "train": ("backend.train", "train a model from a config file (accelerate: CPU, GPU, multi-GPU)"),
    "prepare": ("backend.data.prepare", "cache features of a ZEGGS, BEAT or BVH+WAV folder for training"),
    "make-corpus": ("backend.corpus.takes", "write the procedural speech-gesture corpus (espeak-ng speech)"),
    "motion-stats": ("backend.eval.motion_stats", "compare motion with real speech-gesture mocap (hand height, spread, speeds)"),
    "eval": ("backend.eval.evaluate", "metrics: FGD, beat alignment, diversity, jerk, stroke timing"),
    "train-fgd": ("backend.eval.fgd", "train the motion autoencoder used by the FGD metric"),
    "bench": ("backend.eval.bench.cli", "speed and memory benchmarks: Mamba-2 vs DiT, samplers, end to end"),
    "serve": ("backend.server", "JSON-lines backend process used by the Blender add-on"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dimgesture",
        description="DiM-Gesture: speech-driven gesture generation with an AdaLN Mamba-2 diffusion model.",
        epilog="Run 'dimgesture COMMAND --help' for the options of one command.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in SUBCOMMANDS.items():
        sub.add_parser(name, help=help_text, description=help_text, add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if not argv or argv[0] not in SUBCOMMANDS:
        args = parser.parse_args(argv)  # prints help / errors for unknown commands
        parser.print_help()
        return 2 if args.command is None else 0
    name, rest = argv[0], argv[1:]
    module_name, help_text = SUBCOMMANDS[name]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        if err.name and module_name.startswith(err.name):
            print(f"dimgesture {name}: not available in this build ({module_name} is missing)", file=sys.stderr)
            return 2
        raise
    sub = argparse.ArgumentParser(prog=f"dimgesture {name}", description=help_text)
    module.add_arguments(sub)
    args = sub.parse_args(rest)
    from .errors import DimGestureError

    try:
        return int(module.run(args) or 0)
    except DimGestureError as err:
        print(f"dimgesture {name}: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"dimgesture {name}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
