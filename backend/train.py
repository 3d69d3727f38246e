"""``dimgesture train CONFIG [--section.key VALUE ...]``: train a model, resume a run, or plot its losses.

Every field of the config tree is an option (``--train.lr 1e-4``, ``--model.depth 4``,
``--model.frontend.n_mels 64``); ``--print-config`` shows the resolved tree and exits.
Multi-GPU: ``accelerate launch -m backend.cli train CONFIG``.
"""

from __future__ import annotations

import argparse
import sys

from .training.config import SECTIONS, field_paths, legacy_paths, load_config

OVERRIDE_PREFIXES = tuple(f"{name}." for name in SECTIONS)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", nargs="?", help="training config (JSON), e.g. configs/demo.json")
    parser.add_argument("--resume", nargs="?", const="latest", default=None, metavar="CHECKPOINT",
                        help="continue a run exactly: the newest checkpoint in train.out, or the given checkpoint folder")
    parser.add_argument("--print-config", action="store_true", help="print the resolved config (JSON) and exit")
    parser.add_argument("--plot", metavar="RUN_DIR", help="write RUN_DIR/loss_curve.png from RUN_DIR/metrics.csv and exit")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar (for logs)")
    group = parser.add_argument_group("config overrides", "any field of the config tree, typed like the field")
    for path in field_paths():
        group.add_argument(f"--{path}", dest=path, default=argparse.SUPPRESS, metavar="VALUE")
    for path in legacy_paths():  # old names, still accepted, not advertised
        group.add_argument(f"--{path}", dest=path, default=argparse.SUPPRESS, help=argparse.SUPPRESS)


def overrides_from(args: argparse.Namespace) -> dict[str, str]:
    """The ``--section.key VALUE`` options given on the command line."""
    return {k: v for k, v in vars(args).items() if k.startswith(OVERRIDE_PREFIXES)}


def run(args: argparse.Namespace) -> int:
    if args.plot:
        from .training.metrics import plot_metrics

        print(plot_metrics(args.plot))
        return 0
    if args.config is None and not args.print_config:
        print("dimgesture train: give a config file (e.g. configs/demo.json) or --plot RUN_DIR", file=sys.stderr)
        return 2
    cfg = load_config(args.config, overrides_from(args))
    if args.print_config:
        print(cfg.to_json())
        return 0

    from .training.loop import Trainer

    trainer = Trainer(cfg, progress=not args.no_progress)
    if args.resume:
        path = trainer.resume(args.resume)
        print(f"resumed from {path} at step {trainer.step}", file=sys.stderr)
    final = trainer.train()
    if trainer.accelerator.is_main_process:
        print(final)
    trainer.accelerator.end_training()  # several processes: leave the process group before exit (gloo aborts otherwise)
    return 0
