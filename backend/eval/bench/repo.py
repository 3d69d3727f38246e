"""Where the repository is, and running its modules and scripts in a child process.

Why child processes: a process's peak memory, a cold start and Blender (bpy, which the backend
never imports) can each only be measured in a process of their own. They all run from the
repository root with this Python and print their results as JSON lines.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def shown(path: Path) -> str:
    """``path`` relative to the repository when it lies inside it (labels in the results)."""
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


@dataclass
class Child:
    """What a child process left: its output, its wall time, and what went wrong (None: nothing)."""

    stdout: str
    stderr: str
    seconds: float
    problem: str | None

    def records(self) -> list[dict]:
        """The JSON objects it printed, one per line."""
        return [json.loads(line) for line in self.stdout.splitlines() if line.startswith("{")]

    def failure(self) -> str | None:
        """Why its last record cannot be used (None: it can)."""
        return (self.problem or "no output") if self.problem or not self.records() else None


def run_child(args: list[str], timeout: float, threads: int | None = None) -> Child:
    """``python ARGS`` from the repository root; ``threads`` sets ``OMP_NUM_THREADS`` (None: inherited).

    A timeout is reported as a problem with the output printed until then, not raised: a section
    keeps the sizes it measured.
    """
    env = dict(os.environ, PYTHONPATH=str(REPO))
    if threads is not None:
        env["OMP_NUM_THREADS"] = str(threads)
    start = time.perf_counter()
    try:
        proc = subprocess.run([sys.executable, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as err:
        text = lambda out: out.decode() if isinstance(out, bytes) else (out or "")  # noqa: E731
        return Child(text(err.stdout), text(err.stderr), time.perf_counter() - start, f"stopped after {timeout:.0f} s")
    seconds = time.perf_counter() - start
    problem = None
    if proc.returncode != 0:
        problem = f"exited with {proc.returncode}: {(proc.stderr.strip().splitlines() or ['no output'])[-1]}"
    return Child(proc.stdout, proc.stderr, seconds, problem)
