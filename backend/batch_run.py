"""``dimgesture generate FOLDER|--manifest FILE -o OUT``: thousands of clips, batched, resumable, sharded.

Why a runner of its own: a long job must survive its worst clip (a bad clip is reported and skipped,
the rest go on), a crash or Ctrl+C (outputs are written atomically, and a rerun skips clips whose
outputs all exist), and use every process it is given: under ``accelerate launch`` process ``r`` of
``w`` takes the clips whose index ``i`` has ``i % w == r``, on its own device, and the main
process prints the summary of all of them.

A manifest is CSV (a header row) or JSON lines, one clip per row: ``audio`` (required), ``output``
(a ``.bvh``/``.npz`` file or a folder; default ``OUT``), ``style`` (a style clip) and ``seed``.
Relative paths are taken from the manifest's folder.
"""

from __future__ import annotations

import csv
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from .errors import DimGestureError
from .outputs import clip_outputs, write_outputs

__all__ = ["Job", "read_manifest", "folder_jobs", "shard", "run_jobs", "summary_table", "AUDIO_SUFFIXES"]

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")
COLUMNS = ("audio", "output", "style", "seed")


@dataclass
class Job:
    """One clip of a batch run: where it comes from (``where``: manifest line or file) and goes."""

    index: int
    where: str
    audio: Path | None
    outputs: list[Path] = field(default_factory=list)
    style: Path | None = None
    seed: int = 0
    problem: str | None = None  # set when the manifest row itself is unusable


def _rows(path: Path) -> list[tuple[str, dict]]:
    """(where, row) for each row of a CSV or JSON-lines manifest."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise DimGestureError(f"--manifest {path}: cannot be read ({err})") from None
    if path.suffix.lower() in (".jsonl", ".ndjson", ".json"):
        rows = []
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                row = {"__problem__": f"not valid JSON ({err.msg})"}
            if not isinstance(row, dict):
                row = {"__problem__": "not a JSON object"}
            rows.append((f"{path.name}:{number}", row))
        return rows
    reader = csv.DictReader(text.splitlines())
    if not reader.fieldnames or "audio" not in reader.fieldnames:
        raise DimGestureError(f"--manifest {path}: the first row must name the columns, with 'audio' among them "
                              f"(columns: {', '.join(COLUMNS)})")
    return [(f"{path.name}:{number}", row) for number, row in enumerate(reader, 2)]


def read_manifest(path: Path, output: Path | None, fmt: str | None, seed: int) -> list[Job]:
    """The jobs of a manifest; a bad row becomes a job with a ``problem`` (reported, not fatal)."""
    if not path.is_file():
        raise DimGestureError(f"--manifest {path}: file not found")
    base = path.resolve().parent
    jobs = []
    for index, (where, row) in enumerate(_rows(path)):
        job = Job(index, where, None, seed=seed)
        jobs.append(job)
        unknown = sorted(set(row) - set(COLUMNS) - {"__problem__", None})
        audio = str(row.get("audio") or "").strip()
        if "__problem__" in row or unknown or not audio:
            job.problem = row.get("__problem__") or (f"unknown column(s) {', '.join(unknown)}" if unknown else "no audio given")
            continue
        job.audio = base / audio
        if row.get("style"):
            job.style = base / str(row["style"]).strip()
        if row.get("seed") not in (None, ""):
            try:
                job.seed = int(row["seed"])
            except (TypeError, ValueError):
                job.problem = f"seed {row['seed']!r} is not a whole number"
                continue
        target = base / str(row["output"]).strip() if row.get("output") else output
        if target is None:
            job.problem = "no output given (add an 'output' column or pass -o OUT)"
            continue
        try:
            job.outputs = clip_outputs(target, Path(audio).stem, fmt)
        except DimGestureError as err:  # e.g. a .npz name with --format bvh: this row only
            job.problem = str(err)
    _mark_clashes(jobs)
    return jobs


def folder_jobs(folder: Path, output: Path, fmt: str | None, seed: int) -> list[Job]:
    """One job per audio file under ``folder`` (recursively); outputs mirror its sub-folders."""
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file())
    if not files:
        raise DimGestureError(f"{folder}: no {'/'.join(AUDIO_SUFFIXES)} files in this folder")
    jobs = [Job(i, str(p.relative_to(folder)), p, clip_outputs(output / p.relative_to(folder).parent, p.stem, fmt), seed=seed)
            for i, p in enumerate(files)]
    _mark_clashes(jobs)
    return jobs


def _mark_clashes(jobs: list[Job]) -> None:
    owner: dict[Path, Job] = {}
    for job in jobs:
        for path in job.outputs:
            first = owner.setdefault(path.resolve(), job)
            if first is not job and job.problem is None:
                job.problem = f"writes {path}, like {first.where}"


def shard(jobs: list[Job], rank: int, world: int) -> list[Job]:
    """This process's share: job ``i`` belongs to process ``i % world``."""
    return [job for job in jobs if job.index % world == rank]


@dataclass
class Outcome:
    """What happened to one job, sent to the main process for the summary."""

    where: str
    status: str  # ok | skipped | failed
    frames: int = 0
    audio_seconds: float = 0.0
    message: str = ""


def run_jobs(pipe, jobs: list[Job], *, batch_size: int, overwrite: bool, options: dict, log=print) -> list[Outcome]:
    """Generate every job (skipping finished ones unless ``overwrite``), batch by batch; never raises for one clip."""
    import soundfile as sf

    from .audio import load_audio
    from .batching import ClipRequest, bucket_frames, plan_batches
    from .errors import AudioError

    outcomes: list[Outcome] = []
    todo: list[Job] = []
    for job in jobs:
        if job.problem:
            outcomes.append(Outcome(job.where, "failed", message=job.problem))
        elif not overwrite and all(p.is_file() for p in job.outputs):
            outcomes.append(Outcome(job.where, "skipped"))
        else:
            todo.append(job)
    rate = pipe.model.config.frontend.sample_rate
    estimates = []
    for job in todo:
        try:
            info = sf.info(str(job.audio))
            estimates.append(pipe.num_frames(round(info.frames * rate / info.samplerate)))
        except Exception:  # unreadable: load_audio below says why
            estimates.append(1)
    for planned in plan_batches(estimates, pipe.fps, batch_size):
        ready: dict[int, list[tuple[Job, ClipRequest]]] = {}
        for job in (todo[i] for i in planned):
            try:
                wave = load_audio(job.audio, rate)
                style = load_audio(job.style, rate) if job.style else None
            except AudioError as err:
                outcomes.append(Outcome(job.where, "failed", message=str(err)))
                log(f"failed {job.where}: {err}", file=sys.stderr)
                continue
            request = ClipRequest(wave, job.seed, style)
            ready.setdefault(bucket_frames(pipe.num_frames(len(wave)), pipe.fps), []).append((job, request))
        for group in ready.values():
            outcomes += _run_group(pipe, group, options, log)
    return outcomes


def _run_group(pipe, group, options: dict, log) -> list[Outcome]:
    """One sampling pass for clips of one bucket; if it fails, each clip alone, so only a bad one fails."""
    from .batching import generate_batch, is_long

    jobs = [job for job, _ in group]
    requests = [request for _, request in group]
    try:
        if len(group) == 1 and is_long(pipe.num_frames(len(requests[0].wave)), pipe.fps):
            r = requests[0]
            motions = [pipe(r.wave, seed=r.seed, style_audio=r.style, **options)]
        else:
            motions = generate_batch(pipe, requests, **options)
    except Exception as err:
        if len(group) > 1:
            return [o for item in group for o in _run_group(pipe, [item], options, log)]
        log(f"failed {jobs[0].where}: {type(err).__name__}: {err}", file=sys.stderr)
        return [Outcome(jobs[0].where, "failed", message=f"{type(err).__name__}: {err}")]
    outcomes = []
    for job, request, motion in zip(jobs, requests, motions):
        try:
            write_outputs(motion, job.outputs)
        except OSError as err:
            outcomes.append(Outcome(job.where, "failed", message=f"cannot write the output: {err}"))
            log(f"failed {job.where}: {err}", file=sys.stderr)
            continue
        outcomes.append(Outcome(job.where, "ok", motion.num_frames, len(request.wave) / pipe.model.config.frontend.sample_rate))
        log(" ".join(str(p) for p in job.outputs))
    return outcomes


def summary_table(outcomes: list[Outcome], seconds: float, processes: int) -> str:
    """The end-of-run table (ok / skipped / failed: clips, frames, speech seconds) and the failures."""
    rows = []
    for status in ("ok", "skipped", "failed"):
        picked = [o for o in outcomes if o.status == status]
        rows.append(f"{status:<8}{len(picked):>8}{sum(o.frames for o in picked):>10}{sum(o.audio_seconds for o in picked):>10.1f}")
    ok_speech = sum(o.audio_seconds for o in outcomes if o.status == "ok")
    lines = [f"{'':<8}{'clips':>8}{'frames':>10}{'speech s':>10}", *rows,
             f"{'total':<8}{len(outcomes):>8}   in {seconds:.1f} s wall on {processes} process(es)"
             + (f", {ok_speech / seconds:.1f} s of speech per second" if seconds > 0 and ok_speech else "")]
    failed = [o for o in outcomes if o.status == "failed"]
    if failed:
        lines.append("failed:")
        lines += [f"  {o.where}: {o.message}" for o in failed]
    return "\n".join(lines)


def distributed():
    """accelerate's ``PartialState`` under ``accelerate launch`` with several processes, else None."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return None
    import torch
    from accelerate import PartialState

    return PartialState(cpu=not torch.cuda.is_available())  # without CUDA: CPU processes over gloo


def run(args, jobs: list[Job]) -> int:
    """Shard, generate, gather and summarise; exit status 1 when any clip failed."""
    from .generate import sampling_options
    from .pipeline import GesturePipeline

    if args.batch_size < 1:
        raise DimGestureError(f"--batch-size must be >= 1, got {args.batch_size}")
    state = distributed()
    rank, world = (state.process_index, state.num_processes) if state else (0, 1)
    device = str(state.device) if state and args.device == "auto" else args.device
    mine = shard(jobs, rank, world)
    start = time.perf_counter()
    pipe = GesturePipeline.from_pretrained(args.checkpoint, device)
    outcomes = run_jobs(pipe, mine, batch_size=args.batch_size, overwrite=args.overwrite, options=sampling_options(args))
    if state:
        from accelerate.utils import gather_object

        outcomes = gather_object(outcomes)
        state.wait_for_everyone()
        state.destroy_process_group()  # before exit: gloo aborts a process that leaves it open
    seconds = time.perf_counter() - start
    if rank == 0:
        print(summary_table(outcomes, seconds, world), file=sys.stderr)
    return 1 if any(o.status == "failed" for o in outcomes) else 0
