"""The metrics log of a run (``metrics.csv``) and its loss-curve plot.

Why CSV: readable by anything (pandas, a spreadsheet, ``column -t``) and trivially resumable:
on ``--resume`` the rows past the resumed step are dropped, so the log stays one clean series.
"""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path

from ..errors import DimGestureError

__all__ = ["COLUMNS", "MetricsLog", "read_metrics", "plot_metrics"]

COLUMNS = ("step", "loss", "val_loss", "lr", "time")


class MetricsLog:
    """Append-only CSV of (step, loss, val_loss, lr, time); ``val_loss`` is empty between validations."""

    def __init__(self, path: str | os.PathLike, resume_step: int = 0):
        self.path = Path(path)
        rows = [r for r in read_metrics(self.path) if r["step"] <= resume_step] if resume_step and self.path.exists() else []
        with self.path.open("w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(COLUMNS)
            for r in rows:
                writer.writerow([_fmt(r[c]) for c in COLUMNS])

    def write(self, step: int, loss: float | None, val_loss: float | None, lr: float, time: float) -> None:
        with self.path.open("a", newline="") as fh:
            csv.writer(fh).writerow([step, _fmt(loss), _fmt(val_loss), _fmt(lr), f"{time:.3f}"])


def _fmt(value: float | int | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value) if isinstance(value, int) else repr(float(value))


def read_metrics(path: str | os.PathLike) -> list[dict]:
    """Rows of a metrics CSV with numbers parsed; missing values are None."""
    path = Path(path)
    try:
        with path.open(newline="") as fh:
            reader = csv.DictReader(fh)
            if tuple(reader.fieldnames or ()) != COLUMNS:
                raise DimGestureError(f"{path}: not a metrics log (expected columns {', '.join(COLUMNS)})")
            return [
                {k: (int(v) if k == "step" else float(v)) if v != "" else None for k, v in row.items()}
                for row in reader
            ]
    except FileNotFoundError:
        raise DimGestureError(f"{path} does not exist (is this a training run folder?)") from None
    except ValueError as err:
        raise DimGestureError(f"{path}: malformed row ({err})") from None


def plot_metrics(run_dir: str | os.PathLike, out: str | os.PathLike | None = None) -> Path:
    """Write ``loss_curve.png`` (train and validation loss, log scale, learning rate below) for a run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    run_dir = Path(run_dir)
    rows = read_metrics(run_dir / "metrics.csv")
    if not rows:
        raise DimGestureError(f"{run_dir / 'metrics.csv'} has no rows yet")
    out = Path(out) if out else run_dir / "loss_curve.png"
    train = [(r["step"], r["loss"]) for r in rows if r["loss"] is not None]
    val = [(r["step"], r["val_loss"]) for r in rows if r["val_loss"] is not None]
    fig, (ax, ax_lr) = plt.subplots(2, 1, figsize=(7, 5), sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    if train:
        ax.plot(*zip(*train), label="train", lw=1)
    if val:
        ax.plot(*zip(*val), "o-", label="validation", ms=3)
    ax.set_yscale("log")
    ax.set_ylabel("diffusion loss")
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title(run_dir.name)
    ax_lr.plot([r["step"] for r in rows], [r["lr"] for r in rows], color="tab:gray", lw=1)
    ax_lr.set_ylabel("lr")
    ax_lr.set_xlabel("step")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out
