"""``dimgesture serve`` / ``python -m backend.server``: the backend process behind the Blender add-on.

It reads protocol requests (``backend.protocol``) from stdin, one JSON line each, and writes
events to stdout; everything else (logs, library chatter) goes to stderr. The model is loaded
once and kept, so only the first request pays for it. Generation runs in a worker thread, so
``cancel`` is read while the model works; the pipeline checks the cancel flag every denoising
step. The process exits on ``shutdown`` or when stdin closes (the add-on went away).
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import tempfile
import threading
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Callable

from . import __version__, protocol
from .errors import Cancelled, DimGestureError
from .loading import default_checkpoint, resolve_device

log = logging.getLogger("dimgesture.server")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", type=Path, default=None, help="checkpoint folder (config.json + model.safetensors; default: the bundled demo)")
    parser.add_argument("--device", choices=protocol.DEVICES, default="auto", help="where the model runs (default: cuda if available)")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    parser.add_argument("--heartbeat", type=float, default=0.0, metavar="SECONDS",
                        help="while a job runs, repeat its latest progress this often, so a client can tell a "
                             "hung backend from a slow job (default 0: off)")


def model_summary(pipe, checkpoint: Path) -> dict:
    """What the add-on shows about the loaded model (JSON-safe, small)."""
    cfg, scheduler = pipe.model.config, pipe.scheduler.config
    return {
        "checkpoint": str(checkpoint),
        "parameters": sum(p.numel() for p in pipe.model.parameters()),
        "mixer": cfg.mixer,
        "depth": cfg.depth,
        "hidden": cfg.hidden,
        "frontend": cfg.frontend.kind,
        "fps": pipe.fps,
        "joints": pipe.skeleton.num_joints,
        "sampler": scheduler.sampler,
        "steps": scheduler.steps,
    }


def _error(ident: str | None, kind: str, message: str) -> dict:
    return {"id": ident, "type": "error", "kind": kind, "message": message}


@dataclass
class _Job:
    """The running generate request: its id, worker thread, cancel flag, and whether its answer is decided."""

    id: str
    thread: threading.Thread
    cancel: threading.Event = field(default_factory=threading.Event)
    answered: threading.Event = field(default_factory=threading.Event)
    progress: dict | None = None  # the latest progress event, repeated by the heartbeat


class Server:
    """One backend session: owns the loaded pipeline, the output folder and at most one running job."""

    def __init__(self, out: BinaryIO, checkpoint: Path | None, device: str = "auto", heartbeat: float = 0.0) -> None:
        self._out = out
        self._heartbeat = heartbeat
        self._out_lock = threading.Lock()
        self._checkpoint = checkpoint or default_checkpoint()
        self._default_device = device
        self._pipe = None
        self._pipe_device: str | None = None
        self._pipe_lock = threading.Lock()
        self._job: _Job | None = None
        remove_stale_results()
        self._results = Path(tempfile.mkdtemp(prefix=f"{protocol.RESULTS_PREFIX}{os.getpid()}-"))
        self._count = 0

    # --- output -------------------------------------------------------------------------------
    def send(self, msg: dict, unless: threading.Event | None = None) -> None:
        """Write one event; with ``unless``, only while that event is not set (checked under the output lock)."""
        line = protocol.encode(msg, request=False)
        with self._out_lock:
            if unless is not None and unless.is_set():
                return
            self._out.write(line)
            self._out.flush()

    def send_error(self, ident: str | None, kind: str, message: str) -> None:
        self.send(_error(ident, kind, message))

    # --- model --------------------------------------------------------------------------------
    def pipeline(self, device: str | None = None):
        """The loaded pipeline on ``device`` (loaded on first use, reloaded only if the device changes)."""
        device = resolve_device(device or self._default_device)
        with self._pipe_lock:
            if self._pipe is None or self._pipe_device != device:
                from .pipeline import GesturePipeline

                log.info("loading %s on %s", self._checkpoint, device)
                self._pipe = GesturePipeline.from_pretrained(self._checkpoint, device=device)
                self._pipe_device = device
            return self._pipe

    def hello(self, ident: str) -> None:
        import torch

        msg: dict = {
            "id": ident,
            "type": "hello",
            "protocol": protocol.PROTOCOL_VERSION,
            "versions": {"backend": __version__, "python": sys.version.split()[0], "torch": torch.__version__},
        }
        try:
            pipe = self.pipeline()
            msg["model"] = model_summary(pipe, self._checkpoint)
        except DimGestureError as err:
            msg["model_error"] = str(err)
        try:
            msg["device"] = self._pipe_device or resolve_device(self._default_device)
        except DimGestureError as err:
            msg["device"] = "unavailable"
            msg["model_error"] = str(err)
        self.send(msg)

    # --- jobs ---------------------------------------------------------------------------------
    def busy(self) -> bool:
        return self._job is not None and not self._job.answered.is_set()

    def start_generate(self, request: dict) -> None:
        ident = request["id"]
        if self.busy():
            self.send_error(ident, "busy", f"the backend is still working on request {self._job.id!r}; cancel it or wait")
            return
        self._job = _Job(ident, threading.Thread(target=self._generate, args=(request,), name=f"generate-{ident}", daemon=True))
        self._job.thread.start()
        if self._heartbeat > 0:
            threading.Thread(target=self._beat, args=(self._job,), name=f"heartbeat-{ident}", daemon=True).start()

    def _beat(self, job: _Job) -> None:
        """Repeat the job's latest progress until it is answered (a first beat says it is preparing)."""
        while not job.answered.wait(self._heartbeat):
            # unless=answered: a beat that lost the race with the final answer is dropped, never sent after it
            self.send(job.progress or {"id": job.id, "type": "progress", "step": 0, "total": 1, "stage": "preparing"},
                      unless=job.answered)

    def cancel(self, ident: str) -> None:
        if self.busy() and self._job.id == ident:
            log.info("cancelling %s", ident)
            self._job.cancel.set()
        else:
            log.info("cancel for %s: nothing running under that id", ident)

    def _generate(self, request: dict) -> None:
        job = self._job
        final = self._run_generate(job, request)
        job.answered.set()  # before the answer goes out: the next request may arrive right after it
        self.send(final)

    def _run_generate(self, job: _Job, request: dict) -> dict:
        """The one final event (result or error) of a generate request; progress events go out on the way."""
        ident = request["id"]

        def progress(step: int, total: int, stage: str) -> None:
            total = max(int(total), 1)
            event = {"id": ident, "type": "progress", "step": min(max(int(step), 0), total), "total": total, "stage": str(stage)}
            job.progress = event
            self.send(event)

        try:
            pipe = self.pipeline(request.get("device"))
            if job.cancel.is_set():
                raise Cancelled("generation was cancelled")
            seeds = request.get("seeds") or [request.get("seed") or 0]
            paths = []
            for take, seed in enumerate(seeds):  # takes: one request, one model load, one answer
                motion = pipe(
                    request["audio"],
                    seed=seed,
                    steps=request.get("steps"),
                    sampler=request.get("sampler"),
                    style_audio=request.get("style_audio"),
                    guidance_scale=request.get("guidance_scale"),
                    style_scale=request.get("style_scale"),
                    fps=request.get("fps"),
                    progress=progress if len(seeds) == 1 else take_progress(progress, take, len(seeds)),
                    cancel=job.cancel.is_set,
                )
                self._count += 1
                paths.append(self._results / f"motion-{self._count:05d}.npz")
                motion.save_npz(paths[-1])
            result = {"id": ident, "type": "result", "path": str(paths[0]), "frames": motion.num_frames, "fps": motion.fps}
            if "seeds" in request:
                result["paths"] = [str(p) for p in paths]
            return result
        except Cancelled:
            return _error(ident, "cancelled", "generation was cancelled")
        except DimGestureError as err:
            return _error(ident, err.kind, str(err))
        except Exception as err:  # the process must survive any one request
            log.error("request %s failed:\n%s", ident, traceback.format_exc())
            kind = "out_of_memory" if type(err).__name__ == "OutOfMemoryError" else "internal"
            return _error(ident, kind, f"the backend failed: {type(err).__name__}: {err}")

    # --- main loop ----------------------------------------------------------------------------
    def serve(self, stdin: BinaryIO) -> None:
        """Answer requests until ``shutdown`` or end of input; then stop the job and clean up."""
        try:
            for line in _read_lines(stdin):
                if line is None:
                    self.send_error(None, "protocol", f"request line longer than {protocol.MAX_LINE_BYTES} bytes ignored")
                    continue
                if not line.strip():
                    continue
                try:
                    request = protocol.decode(line, request=True)
                except protocol.ProtocolError as err:
                    self.send_error(protocol.peek_id(line), "protocol", str(err))
                    continue
                kind = request["type"]
                if kind == "shutdown":
                    break
                handler: Callable[[dict], None] = {
                    "hello": lambda r: self.hello(r["id"]),
                    "generate": self.start_generate,
                    "cancel": lambda r: self.cancel(r["id"]),
                }[kind]
                try:
                    handler(request)
                except Exception as err:  # one bad request must never take the process down
                    log.error("request %s failed:\n%s", request["id"], traceback.format_exc())
                    self.send_error(request["id"], "internal", f"the backend failed: {type(err).__name__}: {err}")
        finally:
            self.close()

    def close(self) -> None:
        if self._job is not None and self._job.thread.is_alive():
            self._job.cancel.set()
            self._job.thread.join(timeout=10)
        shutil.rmtree(self._results, ignore_errors=True)


def take_progress(progress: Callable[[int, int, str], None], take: int, takes: int) -> Callable[[int, int, str], None]:
    """Progress of one take as part of all of them: steps counted over the takes, the stage naming the take."""
    def report(step: int, total: int, stage: str) -> None:
        total = max(int(total), 1)
        progress(take * total + int(step), takes * total, f"take {take + 1}/{takes}: {stage}")
    return report


def remove_stale_results() -> None:
    """Delete result folders of backends that were killed before they could clean up (their process is gone)."""
    if os.name == "nt":  # os.kill(pid, 0) would terminate the process there
        return
    for folder in Path(tempfile.gettempdir()).glob(f"{protocol.RESULTS_PREFIX}*-*"):
        pid = folder.name[len(protocol.RESULTS_PREFIX):].split("-", 1)[0]
        if not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except OSError:
            pass  # alive but another user's: not ours to delete


def _read_lines(stream: BinaryIO):
    """Yield input lines; a line over the size limit is skipped whole and yields None."""
    limit = protocol.MAX_LINE_BYTES
    while True:
        line = stream.readline(limit + 1)
        if not line:
            return
        if len(line) > limit and not line.endswith(b"\n"):
            while line and not line.endswith(b"\n"):
                line = stream.readline(limit + 1)
            yield None
            continue
        yield line


def _protocol_stdout() -> BinaryIO:
    """Keep the real stdout for protocol lines and point fd 1 at stderr, so stray prints can't corrupt it."""
    sys.stdout.flush()
    out = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return out


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(stream=sys.stderr, level=args.log_level, format="dimgesture-server %(levelname)s: %(message)s")
    try:
        import torch  # noqa: F401  (fail now, in words, rather than on the first request)
    except ImportError as err:
        log.error("this Python (%s) cannot import PyTorch (%s); give the add-on a Python with the backend installed "
                  "('Install backend' in its preferences)", sys.executable, err)
        return 3
    out = _protocol_stdout()
    log.info("ready (pid %d, checkpoint %s, device %s)", os.getpid(), args.checkpoint, args.device)
    Server(out, args.checkpoint, args.device, args.heartbeat).serve(sys.stdin.buffer)
    log.info("exiting")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m backend.server", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
