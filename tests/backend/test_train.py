"""`dimgesture train`: config overrides, a tiny run that learns and checkpoints, exact resume, loss plot."""

import json
import shutil

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from backend.cli import main
from backend.corpus.takes import make_corpus, plan_takes
from backend.data.prepare import prepare
from backend.errors import DimGestureError
from backend.model.config import FrontendConfig
from backend.pipeline import GesturePipeline
from backend.training.config import ConfigError, load_config
from backend.training.loop import Trainer
from backend.training.metrics import read_metrics

TINY = {
    "model": {"preset": "tiny"},
    "data": {"train_window_seconds": 1.0, "hop_seconds": 0.5},
    "train": {
        "steps": 6, "batch_size": 4, "lr": 5e-3, "warmup_steps": 1, "log_every": 1, "val_every": 3,
        "val_batches": 2, "checkpoint_every": 3, "keep_checkpoints": 5, "threads": 1,
    },
}


@pytest.fixture(autouse=True)
def _restore_threads():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """A 3-take procedural corpus (2 train, 1 val), prepared with the tiny preset's 32-band mel."""
    root = tmp_path_factory.mktemp("tiny-data")
    make_corpus(root / "corpus", plan_takes(seed=0, hours=0, take_seconds=(4.0, 5.0), fps=20.0, takes=3), progress=False)
    prepare(root / "corpus", root / "cache", fps=20.0, frontend=FrontendConfig(kind="mel", n_mels=32),
            val_fraction=0.34, frontend_chunk_seconds=5.0, progress=False)
    return root / "cache"


def write_config(path, cache, out, **train):
    cfg = json.loads(json.dumps(TINY))
    cfg["data"]["cache"] = str(cache)
    cfg["train"].update(out=str(out), **train)
    path.write_text(json.dumps(cfg))
    return path


def losses(run_dir):
    return [(r["step"], r["loss"], r["val_loss"], r["lr"]) for r in read_metrics(run_dir / "metrics.csv")]


# --- config ------------------------------------------------------------------------------------


def test_file_fields_and_overrides_are_typed_and_applied(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"model": {"preset": "tiny", "depth": 3, "frontend": {"n_mels": 40}},
                                "train": {"lr": 1, "steps": 50}}))
    cfg = load_config(path, {"train.lr": "1e-4", "model.hidden": "96", "model.bidirectional": "false",
                             "model.frontend.wavlm_layer": "weighted", "data.mirror": "yes"})
    assert cfg.preset == "tiny"
    assert cfg.model.depth == 3 and cfg.model.frontend.n_mels == 40  # file over preset
    assert cfg.model.hidden == 96 and cfg.model.bidirectional is False  # command line over file
    assert cfg.model.d_state == 16  # untouched preset field
    assert cfg.model.frontend.wavlm_layer == "weighted"  # union-typed field: JSON, else a string
    assert cfg.train.lr == 1e-4 and isinstance(cfg.train.lr, float)
    assert cfg.train.steps == 50 and cfg.data.mirror is True
    again = load_config(None, {"model.preset": "paper"})
    assert again.model.hidden == 1280 and again.model.frontend.kind == "wavlm"


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"train.lr": "fast"}, r"--train\.lr: cannot read 'fast' as float"),
        ({"train.steps": "1.5"}, r"--train\.steps: cannot read '1.5' as int"),
        ({"train.nope": "1"}, r"unknown config key --train\.nope"),
        ({"model.frontend": "1"}, r"unknown config key --model\.frontend"),
        ({"model.preset": "huge"}, r"unknown model preset 'huge'"),
        ({"train.schedule": "cyclic"}, r"train\.schedule must be one of cosine, constant, linear"),
        ({"model.mixer": "lstm"}, r"mixer must be one of mamba2, attention"),
        ({"data.style_reference": "elsewhere"}, r"data\.style_reference must be one of same_window, other_window, speaker"),
        ({"train.speaker_id_weight": "0.1"}, r"speaker_id_weight needs a style reference from elsewhere"),
    ],
)
def test_bad_overrides_name_the_key(overrides, message):
    with pytest.raises(ConfigError, match=message):
        load_config(None, overrides)


def test_bad_config_files_name_the_file_and_key(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"train": {"lr": 1e-3, "learning_rate": 1}}))
    with pytest.raises(ConfigError, match=r"bad\.json: unknown config key train\.learning_rate"):
        load_config(bad)
    bad.write_text(json.dumps({"train": {"steps": "many"}}))
    with pytest.raises(ConfigError, match=r"bad\.json: config key train\.steps has the wrong type"):
        load_config(bad)
    bad.write_text("{not json")
    with pytest.raises(ConfigError, match="not readable JSON"):
        load_config(bad)


def test_sections_split_by_concern_and_old_keys_still_load(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"model": {"preset": "tiny"}, "scheduler": {"steps": 7, "prediction_type": "sample"},
                                "output": {"smooth_seconds": 0.5}, "train": {"dropout": 0.0, "cond_drop_prob": 0.2}}))
    cfg = load_config(path, {"scheduler.sampler": "ddpm"})
    assert (cfg.scheduler.sampler, cfg.scheduler.steps, cfg.scheduler.prediction_type) == ("ddpm", 7, "sample")
    assert (cfg.output.smooth_seconds, cfg.train.dropout, cfg.train.cond_drop_prob) == (0.5, 0.0, 0.2)
    assert cfg.data.fps is None and cfg.model.pose_dim is None  # recorded from the cache by the trainer
    # a config written before the split: the same settings under their old names
    path.write_text(json.dumps({"model": {"preset": "tiny", "dropout": 0.0, "fps": 20,
                                          "diffusion": {"prediction_type": "sample", "cond_drop_prob": 0.2},
                                          "sampler": {"name": "ddpm", "steps": 7, "smooth_seconds": 0.5}},
                                "data": {"window_seconds": 3.0}}))
    old = load_config(path, {"data.window_seconds": "2.5"})
    assert old.scheduler == cfg.scheduler and old.output == cfg.output
    assert (old.train.dropout, old.train.cond_drop_prob, old.data.fps, old.data.train_window_seconds) == (0.0, 0.2, 20.0, 2.5)
    assert main(["train", str(path), "--print-config", "--data.window_seconds", "2.5"]) == 0  # old option name
    path.write_text(json.dumps({"model": {"preset": "tiny", "sampler": {"name": "ddpm"}}, "scheduler": {"sampler": "ddim"}}))
    with pytest.raises(ConfigError, match=r"model\.sampler\.name and scheduler\.sampler set the same thing"):
        load_config(path)


def test_cli_print_config_shows_the_resolved_tree(tmp_path, capsys):
    path = write_config(tmp_path / "c.json", tmp_path / "cache", tmp_path / "run")
    assert main(["train", str(path), "--print-config", "--train.lr=2e-4", "--model.depth", "5"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["train"]["lr"] == 2e-4 and printed["model"]["depth"] == 5
    assert printed["model"]["preset"] == "tiny" and printed["model"]["hidden"] == 64
    assert load_config(None, {}).to_dict().keys() == printed.keys()


def test_shipped_configs_load(tmp_path):
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "configs"
    loaded = {p.stem: load_config(p) for p in sorted(root.glob("*.json"))}
    assert {"demo", "zeggs", "beat"} <= set(loaded)
    assert loaded["demo"].model.frontend.kind == "mel" and loaded["demo"].preset == "small"
    zeggs = loaded["zeggs"]
    assert (zeggs.model.frontend.kind, zeggs.model.frontend.wavlm_layer, zeggs.model.hidden) == ("wavlm", 12, 1280)
    assert (zeggs.data.train_window_seconds, zeggs.data.hop_seconds, zeggs.train.lr, zeggs.train.grad_clip) == (20.0, 10.0, 2e-4, 0.5)


# --- training ----------------------------------------------------------------------------------


def test_cache_frontend_mismatch_is_a_clear_error(tmp_path, cache):
    cfg = load_config(write_config(tmp_path / "c.json", cache, tmp_path / "run"), {"model.frontend.n_mels": "48"})
    with pytest.raises(ConfigError, match=r"frontend\.n_mels=32.*model\.frontend\.n_mels=48"):
        Trainer(cfg, progress=False)


@pytest.mark.parametrize("override, message", [
    ({"data.fps": "30"}, r"prepared with fps 20, but the config says data\.fps=30"),
    ({"model.pose_dim": "100"}, r"prepared with pose_dim 454, but the config says model\.pose_dim=100"),
])
def test_cache_and_config_disagreeing_on_data_is_a_clear_error(tmp_path, cache, override, message):
    cfg = load_config(write_config(tmp_path / "c.json", cache, tmp_path / "run"), override)
    with pytest.raises(ConfigError, match=message):
        Trainer(cfg, progress=False)


def test_too_few_windows_for_a_batch_is_a_clear_error(tmp_path, cache):
    cfg = load_config(write_config(tmp_path / "c.json", cache, tmp_path / "run"), {"train.batch_size": "500"})
    with pytest.raises(ConfigError, match="fewer than one batch"):
        Trainer(cfg, progress=False)


def test_style_reference_from_another_window_reaches_the_style_branch(tmp_path, cache):
    cfg = load_config(write_config(tmp_path / "c.json", cache, tmp_path / "run"), {"data.style_reference": "other_window"})
    trainer = Trainer(cfg, progress=False)
    batch = next(iter(trainer.loader))
    assert batch["style_audio"].shape == batch["audio"].shape
    assert not torch.equal(batch["style_audio"], batch["audio"])
    trainer.model.eval()  # no dropout: the two losses differ only by the style reference
    with torch.no_grad():
        for param in trainer.model.parameters():  # the zero-initialised output layers hide every input
            param.normal_(0.0, 0.1, generator=torch.Generator().manual_seed(param.numel()))
        losses_ = []
        for style in (batch["style_audio"], None):
            torch.manual_seed(0)
            losses_.append(float(trainer._loss({**batch, "style_audio": style})))
    assert losses_[0] != losses_[1]


def test_speaker_probe_learns_who_the_reference_is_and_resumes_exactly(tmp_path, cache):
    """The probe's cross-entropy falls (the style vector comes to tell the speakers apart), and an
    interrupted run that resumes ends with the same model and probe as one that was not."""
    overrides = {"data.style_reference": "other_window", "train.speaker_id_weight": "1.0", "train.steps": "8",
                 "train.checkpoint_every": "4", "train.val_every": "8"}
    config = write_config(tmp_path / "c.json", cache, tmp_path / "whole")
    trainer = Trainer(load_config(config, overrides), progress=False)
    assert trainer.speaker_probe.out_features == 3  # the cache's three takes, three roster speakers
    windows = trainer.loader.dataset
    batch = torch.utils.data.default_collate([windows[i] for i in range(len(windows))])
    assert len(set(batch["style_speaker"].tolist())) == 2  # the train split's two speakers

    def probe_loss():
        trainer.model.eval()
        with torch.no_grad():
            logits = trainer.speaker_probe(trainer.model.fuzzy.style(batch["style_audio"]))
            loss = float(torch.nn.functional.cross_entropy(logits, batch["style_speaker"]))
        trainer.model.train()
        return loss

    before = probe_loss()
    trainer.train()
    assert probe_loss() < 0.75 * before  # deterministic: 1.34 -> 0.84 when written

    split = load_config(config, {**overrides, "train.out": str(tmp_path / "split")})
    Trainer(split, progress=False).train(stop_at=4)
    resumed = Trainer(split, progress=False)
    resumed.resume(True)
    resumed.train()
    for state in ("model.safetensors", "model_1.safetensors"):  # the model's raw weights, the probe's
        whole = load_file(tmp_path / "whole" / "checkpoint-0000008" / "state" / state)
        again = load_file(tmp_path / "split" / "checkpoint-0000008" / "state" / state)
        assert whole.keys() == again.keys()
        assert all(torch.equal(whole[k], again[k]) for k in whole), state


def test_speaker_probe_needs_speaker_labels(tmp_path, cache):
    manifest = json.loads((cache / "manifest.json").read_text())
    unlabelled = tmp_path / "cache"
    shutil.copytree(cache, unlabelled)
    for take in manifest["takes"]:
        take.pop("speaker"), take.pop("style_speaker")
    (unlabelled / "manifest.json").write_text(json.dumps(manifest))
    cfg = load_config(write_config(tmp_path / "c.json", unlabelled, tmp_path / "run"),
                      {"data.style_reference": "other_window", "train.speaker_id_weight": "0.1"})
    with pytest.raises(ConfigError, match="needs speaker labels for at least two speakers"):
        Trainer(cfg, progress=False)


@pytest.fixture(scope="module")
def full_run(tmp_path_factory, cache):
    """Six steps in one go through the command line."""
    tmp = tmp_path_factory.mktemp("full")
    config = write_config(tmp / "c.json", cache, tmp / "run")
    threads = torch.get_num_threads()
    assert main(["train", str(config), "--no-progress"]) == 0
    torch.set_num_threads(threads)
    return config, tmp / "run"


def test_training_learns_and_writes_a_loadable_checkpoint(tmp_path, cache, full_run):
    config, run = full_run
    # the loss falls on a longer run with the same settings
    longer = load_config(config, {"train.out": str(tmp_path / "longer"), "train.steps": "40", "train.batch_size": "8",
                                  "train.val_every": "40", "train.checkpoint_every": "40", "train.log_every": "10"})
    trainer = Trainer(longer, progress=False)
    before = trainer.validate()
    trainer.train()
    rows = read_metrics(tmp_path / "longer" / "metrics.csv")
    assert rows[-1]["val_loss"] < 0.95 * before
    assert rows[-1]["loss"] < rows[0]["loss"]

    assert [r[0] for r in losses(run)] == [1, 2, 3, 4, 5, 6]
    assert all(np.isfinite(r[1]) for r in losses(run))
    assert [r[2] is not None for r in losses(run)] == [False, False, True, False, False, True]
    assert sorted(p.name for p in run.iterdir()) == ["checkpoint-0000003", "checkpoint-0000006", "final", "metrics.csv", "run_config.json"]
    assert sorted(p.name for p in (run / "final").iterdir()) == ["config.json", "model.safetensors", "scheduler_config.json",
                                                                 "stats.safetensors"]
    recorded = json.loads((run / "run_config.json").read_text())
    assert (recorded["data"]["fps"], recorded["model"]["pose_dim"]) == (20.0, 454)  # taken from the cache
    assert "dropout" not in json.loads((run / "final" / "config.json").read_text())["model"]
    pipe = GesturePipeline.from_pretrained(run / "final")
    motion = pipe(np.random.default_rng(0).normal(0, 0.1, 16000).astype(np.float32), steps=2)
    assert motion.num_frames == 20 and motion.fps == 20.0
    # the checkpoint holds the EMA weights, not the raw ones
    ema = load_file(run / "final" / "model.safetensors")
    raw = load_file(run / "checkpoint-0000006" / "state" / "model.safetensors")
    assert ema.keys() == raw.keys()
    assert any(not torch.equal(ema[k], raw[k]) for k in ema)


def test_resume_continues_exactly(tmp_path, cache, full_run):
    config, run = full_run
    out = tmp_path / "split"
    trainer = Trainer(load_config(config, {"train.out": str(out)}), progress=False)
    stop = len(trainer.loader) + 1  # one batch into the second epoch: resuming must skip inside the epoch
    assert stop < 6
    assert trainer.train(stop_at=stop).name == f"checkpoint-{stop:07d}"
    assert main(["train", str(config), "--train.out", str(out), "--resume", "--no-progress"]) == 0
    whole = load_file(run / "final" / "model.safetensors")
    resumed = load_file(out / "final" / "model.safetensors")
    for name in whole:
        assert torch.equal(whole[name], resumed[name]), name
    assert losses(out) == losses(run)


def test_resume_without_a_checkpoint_fails_clearly(tmp_path, cache):
    cfg = load_config(write_config(tmp_path / "c.json", cache, tmp_path / "empty"))
    with pytest.raises(DimGestureError, match="no checkpoint-\\* folder with training state"):
        Trainer(cfg, progress=False).resume(True)


def test_plot_writes_a_loss_curve(full_run, capsys):
    _, run = full_run
    assert main(["train", "--plot", str(run)]) == 0
    png = run / "loss_curve.png"
    assert capsys.readouterr().out.strip() == str(png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000


def test_resume_past_the_configured_steps_is_refused(full_run):
    config, run = full_run
    trainer = Trainer(load_config(config, {"train.steps": "4"}), progress=False)
    with pytest.raises(ConfigError, match=r"checkpoint-0000006 is at step 6, beyond train\.steps=4"):
        trainer.resume(True)
