"""The training loop: accelerate for devices and precision, AdamW + warm-up, EMA, exact resume.

Why these choices:
- ``accelerate`` runs the same loop on a CPU, one GPU or many (``accelerate launch``), and
  saves/loads optimizer, scheduler, EMA and model state in one call.
- Exact resume without relying on iterator side effects: the data order of epoch ``e`` is a
  seeded permutation (accelerate's seedable sampler), the position inside it is ``step mod
  batches_per_epoch`` (skipped with ``skip_first_batches``), and every step re-seeds torch from
  ``(seed, step, process)`` before drawing noise, timesteps and dropout. So step ``s`` does the
  same arithmetic whether the run was interrupted or not.
- Checkpoints are pipeline folders (safetensors + JSON, EMA weights) that ``GesturePipeline``
  loads directly; the training state (which accelerate pickles) sits beside them in ``state/``
  and is only ever read back by ``--resume`` of our own runs.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import time
from pathlib import Path

import numpy as np
import torch

from ..errors import DimGestureError
from .config import ConfigError, RunConfig
from .loss import diffusion_loss
from .metrics import MetricsLog

__all__ = ["Trainer", "find_checkpoint", "CHECKPOINT_PREFIX"]

CHECKPOINT_PREFIX = "checkpoint-"
STATE_DIR = "state"
TRAINER_STATE = "trainer_state.json"
VAL_SEED = 1234


def step_seed(seed: int, step: int, process: int) -> int:
    """A well-mixed 63-bit seed for one training step on one process."""
    return int(np.random.SeedSequence([seed, step, process]).generate_state(2, dtype=np.uint32).astype(np.uint64) @ [1 << 31, 1])


def _checkpoints(out: Path) -> list[Path]:
    return [p for p in out.glob(f"{CHECKPOINT_PREFIX}*") if p.is_dir() and p.name[len(CHECKPOINT_PREFIX):].isdigit()]


def find_checkpoint(out: Path, resume: str | bool) -> Path:
    """The checkpoint to resume: ``resume`` as a path, or the newest ``checkpoint-*`` in ``out``."""
    if isinstance(resume, str) and resume not in ("", "latest"):
        path = Path(resume)
        if not (path / STATE_DIR / TRAINER_STATE).is_file():
            raise DimGestureError(f"cannot resume from {path}: it has no training state ({STATE_DIR}/{TRAINER_STATE})")
        return path
    candidates = sorted(
        (p for p in _checkpoints(out) if (p / STATE_DIR / TRAINER_STATE).is_file()),
        key=lambda p: int(p.name[len(CHECKPOINT_PREFIX):]),
    )
    if not candidates:
        raise DimGestureError(f"cannot resume: no {CHECKPOINT_PREFIX}* folder with training state in {out}")
    return candidates[-1]


class Trainer:
    """Builds everything from a ``RunConfig``; ``train()`` runs to ``train.steps`` and returns the final checkpoint."""

    def __init__(self, cfg: RunConfig, *, progress: bool = True):
        from accelerate import Accelerator
        from accelerate.utils import DataLoaderConfiguration, set_seed
        from diffusers.optimization import get_scheduler
        from diffusers.training_utils import EMAModel

        from ..data.dataset import GestureWindows, read_manifest
        from ..model.gesture import GestureModel
        from ..model.schedulers import GestureScheduler

        self.cfg, self.progress = cfg, progress
        t = cfg.train
        self.out = Path(t.out)
        self.accelerator = Accelerator(
            mixed_precision=t.mixed_precision,
            # without CUDA, processes started by `accelerate launch` must be told to talk over gloo
            cpu=t.cpu or not torch.cuda.is_available(),
            dataloader_config=DataLoaderConfiguration(use_seedable_sampler=True, data_seed=t.seed),
        )
        if t.threads:
            torch.set_num_threads(t.threads)
        set_seed(t.seed)
        self.cache = Path(cfg.data.cache)
        self.manifest = read_manifest(self.cache)
        _record_cache(cfg, self.manifest)

        fps = cfg.data.fps
        window, hop = round(cfg.data.train_window_seconds * fps), round(cfg.data.hop_seconds * fps)
        style = cfg.data.style_reference
        train_set = GestureWindows(self.cache, "train", window, hop, mirror=cfg.data.mirror, style_reference=style)
        if len(train_set) < t.batch_size * self.accelerator.num_processes:
            raise ConfigError(
                f"{self.cache}: the train split has {len(train_set)} windows of {cfg.data.train_window_seconds} s, "
                f"fewer than one batch ({t.batch_size} x {self.accelerator.num_processes} processes); "
                "lower train.batch_size or data.train_window_seconds, or prepare more data"
            )
        has_val = any(take["split"] == "val" for take in self.manifest["takes"])
        val_set = GestureWindows(self.cache, "val", window, hop, style_reference=style) if has_val else None
        if val_set is not None and len(val_set) == 0:
            val_set = None
        loader = torch.utils.data.DataLoader(
            train_set, batch_size=t.batch_size, shuffle=True, drop_last=True, num_workers=cfg.data.num_workers
        )
        val_loader = (
            torch.utils.data.DataLoader(val_set, batch_size=t.batch_size, shuffle=False, num_workers=cfg.data.num_workers)
            if val_set is not None
            else None
        )

        model = GestureModel(cfg.model, dropout=t.dropout)
        probe = _speaker_probe(cfg, model, train_set.speaker_ids)
        self.noise_scheduler = GestureScheduler(cfg.scheduler)
        # Mamba-2's A_log, D and dt_bias carry mamba-ssm's _no_weight_decay mark: never decay them.
        decay = [p for p in model.parameters() if not getattr(p, "_no_weight_decay", False)]
        no_decay = [p for p in model.parameters() if getattr(p, "_no_weight_decay", False)]
        optimizer = torch.optim.AdamW(
            [{"params": decay}, {"params": no_decay, "weight_decay": 0.0}, *([{"params": list(probe.parameters())}] if probe else [])],
            lr=t.lr, betas=(t.adam_beta1, t.adam_beta2), weight_decay=t.weight_decay,
        )
        # A prepared scheduler steps once per process per optimizer step: scale its horizon to match.
        n = self.accelerator.num_processes
        scheduler = get_scheduler(
            {"constant": "constant_with_warmup"}.get(t.schedule, t.schedule),
            optimizer,
            num_warmup_steps=t.warmup_steps * n,
            num_training_steps=t.steps * n,
        )
        self.ema = EMAModel(model.parameters(), decay=t.ema_decay, use_ema_warmup=True, power=t.ema_power)
        prepared = self.accelerator.prepare(model, optimizer, scheduler, loader, *([val_loader] if val_loader else []))
        self.model, self.optimizer, self.scheduler, self.loader = prepared[:4]
        self.val_loader = prepared[4] if val_loader else None
        # prepared after the rest so that save_state/load_state number the model's files as before
        self.speaker_probe = self.accelerator.prepare(probe) if probe else None
        self.ema.to(self.accelerator.device)
        self.accelerator.register_for_checkpointing(self.ema)
        self.step, self.elapsed = 0, 0.0
        # What a checkpoint needs besides the model; built now so that a frontend that cannot be
        # loaded (e.g. a WavLM hub id on an offline machine) fails before training, not after it.
        self._pipeline_parts = self._checkpoint_parts(train_set) if self.accelerator.is_main_process else None

    # --- state ------------------------------------------------------------------------------

    def resume(self, resume: str | bool) -> Path:
        """Load optimizer, scheduler, EMA, model and RNG state from a checkpoint; returns its path."""
        path = find_checkpoint(self.out, resume)
        self.accelerator.load_state(str(path / STATE_DIR))
        state = json.loads((path / STATE_DIR / TRAINER_STATE).read_text())
        self.step, self.elapsed = int(state["step"]), float(state["elapsed"])
        if self.step > self.cfg.train.steps:
            raise ConfigError(f"{path} is at step {self.step}, beyond train.steps={self.cfg.train.steps}")
        return path

    def save_checkpoint(self, final: bool = False) -> Path:
        """Write ``checkpoint-STEP`` (pipeline with EMA weights + training state) atomically; prune old ones."""
        acc = self.accelerator
        name = f"{CHECKPOINT_PREFIX}{self.step:07d}"
        target, tmp = self.out / name, self.out / f".tmp-{name}"
        if acc.is_main_process:
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
        acc.wait_for_everyone()
        acc.save_state(str(tmp / STATE_DIR))
        if acc.is_main_process:
            (tmp / STATE_DIR / TRAINER_STATE).write_text(json.dumps({"step": self.step, "elapsed": self.elapsed}))
            self._save_pipeline(tmp)
            shutil.rmtree(target, ignore_errors=True)
            tmp.rename(target)
            if final:
                final_dir, final_tmp = self.out / "final", self.out / ".tmp-final"
                shutil.rmtree(final_tmp, ignore_errors=True)
                shutil.copytree(target, final_tmp, ignore=shutil.ignore_patterns(STATE_DIR))
                shutil.rmtree(final_dir, ignore_errors=True)
                final_tmp.rename(final_dir)
            kept = sorted(_checkpoints(self.out), key=lambda p: int(p.name[len(CHECKPOINT_PREFIX):]))
            for old in kept[: -self.cfg.train.keep_checkpoints]:
                shutil.rmtree(old)
        acc.wait_for_everyone()
        return target

    def _checkpoint_parts(self, train_set) -> tuple:
        """Frontend, skeleton and stats of the checkpoints (the train split's, already loaded)."""
        from ..model.frontends import build_frontend

        try:
            frontend = build_frontend(self.cfg.model.frontend)
        except (OSError, ValueError) as err:
            raise ConfigError(f"cannot load the audio frontend of model.frontend ({err})") from None
        return frontend, train_set.skeleton, train_set.stats

    def _save_pipeline(self, folder: Path) -> None:
        from ..pipeline import GesturePipeline

        frontend, skeleton, stats = self._pipeline_parts
        model = self.accelerator.unwrap_model(self.model)
        self.ema.store(model.parameters())
        self.ema.copy_to(model.parameters())
        try:
            pipe = GesturePipeline(frontend, model, self.noise_scheduler, skeleton, stats, fps=self.cfg.data.fps, output=self.cfg.output)
            pipe.save_pretrained(folder)
        finally:
            self.ema.restore(model.parameters())
            model.train()  # the pipeline switched it to eval mode (dropout off)

    # --- loop -------------------------------------------------------------------------------

    def _loss(self, batch: dict) -> torch.Tensor:
        return diffusion_loss(self.model, self.noise_scheduler, batch["motion"], batch["audio"],
                              cond_drop_prob=self.cfg.train.cond_drop_prob, style_audio=batch.get("style_audio"))

    def _training_loss(self, batch: dict) -> torch.Tensor:
        """The diffusion loss, plus the speaker probe's cross-entropy on the style vector the model computed
        (caught with a hook: the model's forward stays the one generation uses)."""
        if self.speaker_probe is None:
            return self._loss(batch)
        styles: list[torch.Tensor] = []
        hook = self.accelerator.unwrap_model(self.model).fuzzy.style.register_forward_hook(lambda _m, _i, out: styles.append(out))
        try:
            loss = self._loss(batch)
        finally:
            hook.remove()
        logits = self.speaker_probe(styles[0])
        return loss + self.cfg.train.speaker_id_weight * torch.nn.functional.cross_entropy(logits, batch["style_speaker"])

    def validate(self) -> float | None:
        """Mean diffusion loss over the first ``val_batches`` validation batches, with fixed noise."""
        if self.val_loader is None:
            return None
        acc, losses = self.accelerator, []
        self.model.eval()
        with torch.no_grad():
            for i, batch in enumerate(self.val_loader):
                if i >= self.cfg.train.val_batches:
                    break
                torch.manual_seed(step_seed(VAL_SEED, i, acc.process_index))
                loss = self._loss(batch)
                losses.append(acc.gather_for_metrics(loss.detach().reshape(1)))
        self.model.train()
        return float(torch.cat(losses).mean()) if losses else None

    def train(self, stop_at: int | None = None) -> Path:
        """Train to ``train.steps``; ``stop_at`` pauses earlier with a resumable checkpoint (returned)."""
        from tqdm.auto import tqdm

        acc, t = self.accelerator, self.cfg.train
        if acc.is_main_process:
            self.out.mkdir(parents=True, exist_ok=True)
            (self.out / "run_config.json").write_text(self.cfg.to_json() + "\n")
        log = MetricsLog(self.out / "metrics.csv", resume_step=self.step) if acc.is_main_process else None
        per_epoch = len(self.loader)
        bar = tqdm(total=t.steps, initial=self.step, desc="training", disable=not (self.progress and acc.is_local_main_process), dynamic_ncols=True)
        end = min(t.steps, stop_at) if stop_at is not None else t.steps
        running, count, checkpoint = 0.0, 0, self.out / "final"
        started = time.perf_counter() - self.elapsed
        self.model.train()
        while self.step < end:
            epoch, offset = divmod(self.step, per_epoch)
            self.loader.set_epoch(epoch)
            batches = acc.skip_first_batches(self.loader, offset) if offset else self.loader
            for batch in batches:
                torch.manual_seed(step_seed(t.seed, self.step, acc.process_index))
                loss = self._training_loss(batch)
                acc.backward(loss)
                acc.clip_grad_norm_(self.model.parameters(), t.grad_clip)
                self.optimizer.step()
                self.scheduler.step()
                self.optimizer.zero_grad(set_to_none=True)
                self.ema.step(acc.unwrap_model(self.model).parameters())
                self.step += 1
                running, count = running + loss.detach(), count + 1
                bar.update(1)

                last, pause = self.step == t.steps, self.step == end
                val_loss = self.validate() if self.step % t.val_every == 0 or last else None
                if self.step % t.log_every == 0 or last or val_loss is not None:
                    mean = float(acc.reduce(running / count, "mean"))
                    if not np.isfinite(mean):  # checked here, not per step, to avoid a device sync per step
                        raise DimGestureError(f"training diverged by step {self.step}: loss is {mean} (lower train.lr?)")
                    lr = self.scheduler.get_last_lr()[0]
                    self.elapsed = time.perf_counter() - started
                    if log is not None:
                        log.write(self.step, mean, val_loss, lr, self.elapsed)
                    bar.set_postfix(loss=f"{mean:.4f}", **({"val": f"{val_loss:.4f}"} if val_loss is not None else {}))
                    running, count = 0.0, 0
                if self.step % t.checkpoint_every == 0 or pause:
                    self.elapsed = time.perf_counter() - started
                    saved = self.save_checkpoint(final=last)
                    checkpoint = self.out / "final" if last else saved
                if pause:
                    break
        bar.close()
        return checkpoint


def _speaker_probe(cfg: RunConfig, model, speaker_ids: dict[str, int]) -> torch.nn.Module | None:
    """The linear speaker classifier on the style vector that ``train.speaker_id_weight`` trains (None when 0).

    Why: the style branch, left to the diffusion loss alone, learnt little of who is gesturing (the
    style moved the motion half as much as a seed). Training-only: checkpoints do not carry it.
    """
    if cfg.train.speaker_id_weight == 0:
        return None
    if model.fuzzy.style is None:
        raise ConfigError("train.speaker_id_weight needs the style branch (model.style true)")
    if len(speaker_ids) < 2:
        raise ConfigError(
            f"train.speaker_id_weight needs speaker labels for at least two speakers in data.cache {cfg.data.cache} "
            "(a make-corpus corpus, prepared again)"
        )
    return torch.nn.Linear(cfg.model.hidden, len(speaker_ids))


def _record_cache(cfg: RunConfig, manifest: dict) -> None:
    """Record the cache's fps (``data.fps``) and feature width (``model.pose_dim``) in ``cfg``.

    A value the config already states must agree with the cache: the cache's features were computed
    at that rate and size, so a different one cannot be trained on. The frontend must match too;
    only ``wavlm_path`` may differ (a hub id in the config, a local folder in the cache): the config's
    value is what the checkpoint records, the cache's fills it in when the config has none.
    """
    cached = manifest["frontend"]["config"]
    wanted = dataclasses.asdict(cfg.model.frontend)
    mismatched = [k for k in wanted if k != "wavlm_path" and k in cached and cached[k] != wanted[k]]
    if cached.get("kind") == "mel":
        mismatched = [k for k in mismatched if not k.startswith("wavlm")]
    if mismatched:
        raise ConfigError(
            f"data.cache {cfg.data.cache} holds features computed with "
            + ", ".join(f"frontend.{k}={cached[k]!r}" for k in mismatched)
            + ", but the model config says "
            + ", ".join(f"model.frontend.{k}={wanted[k]!r}" for k in mismatched)
            + " (set model.frontend.* to match, or prepare the cache again)"
        )
    fps, pose_dim = float(manifest["fps"]), int(manifest["feature_dim"])
    for key, stated, found in (("data.fps", cfg.data.fps, fps), ("model.pose_dim", cfg.model.pose_dim, pose_dim)):
        if stated is not None and stated != found:
            raise ConfigError(
                f"data.cache {cfg.data.cache} was prepared with {key.split('.')[1]} {found:g}, but the config says "
                f"{key}={stated:g} (leave {key} out to take the cache's, or prepare the cache again)"
            )
    cfg.data.fps = fps
    changes: dict = {"pose_dim": pose_dim}
    if wanted["wavlm_path"] is None and cached.get("wavlm_path"):
        changes["frontend"] = {**wanted, "wavlm_path": cached["wavlm_path"]}
    cfg.model = cfg.model.replace(**changes)
