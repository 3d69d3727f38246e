"""dimgesture eval on a tiny procedural corpus and a tiny random checkpoint."""

import json
import shutil

import numpy as np
import pytest

from backend.cli import main
from backend.corpus.takes import make_corpus, plan_takes
from backend.data import prepare
from backend.eval.evaluate import load_takes, motion_metrics
from backend.model.config import preset, scheduler_preset
from backend.motion.skeleton import default_skeleton
from backend.pipeline import GesturePipeline

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")


@pytest.fixture(scope="module")
def tiny_corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("corpus")
    make_corpus(out, plan_takes(11, 0, (5.0, 5.0), 20.0, takes=3), progress=False)
    return out


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ckpt") / "tiny"
    GesturePipeline.from_config(preset("tiny"), seed=3, scheduler=scheduler_preset("tiny")).save_pretrained(folder)
    return folder


def test_eval_cli_writes_a_report(tiny_corpus, checkpoint, tmp_path, capsys):
    report_path = tmp_path / "report.json"
    rc = main(["eval", "--checkpoint", str(checkpoint), "--data", str(tiny_corpus), "--max-takes", "2",
               "--samples", "2", "--sampler", "ddim", "--steps", "2", "-o", str(report_path)])
    assert rc == 0
    assert "beat_align" in capsys.readouterr().out
    report = json.loads(report_path.read_text())
    assert report["takes"] == ["take_00000", "take_00001"]
    assert report["sampler"] == "ddim" and report["steps"] == 2 and report["samples_per_clip"] == 2
    assert report["audio_seconds"] == pytest.approx(10.0, abs=0.1)
    gen, real = report["metrics"]["generated"], report["metrics"]["ground_truth"]
    assert gen["fd_positions"] > 0
    assert 0 <= gen["beat_align"] <= 1 and 0 <= real["beat_align"] <= 1
    assert gen["diversity_within"] > 0  # two seeds give different motion
    assert real["diversity_within"] is None  # one real motion per clip: undefined, written as null
    assert real["fd_positions"] > 0  # the floor: real odd clips vs real even clips
    assert gen["jerk_p95"] >= gen["jerk_mean"] > 0
    # the corpus places a wrist-speed peak on every ground-truth stroke: the detector finds most of them
    # (per 5 s take 0.25-1.0, pooled over six takes of this plan 0.75-0.8; these two takes 4 of 6 strokes)
    assert real["stroke_recall"] >= 0.6 and real["stroke_mae"] < 0.06
    assert 0 <= gen["stroke_precision"] <= 1


def test_metrics_of_real_motion_against_itself(tiny_corpus):
    takes = load_takes(tiny_corpus, default_skeleton(), 20.0, max_takes=2)
    real = [t.motion for t in takes]
    m = motion_metrics([[r] for r in real], [t.wave for t in takes], [t.strokes for t in takes], real)
    assert m["fd_positions"] == pytest.approx(0.0, abs=1e-6)
    assert m["diversity_across"] > 0
    assert motion_metrics([[r, r] for r in real])["diversity_within"] == 0.0
    assert takes[0].strokes is not None and len(takes[0].strokes) > 0


@pytest.fixture(scope="module")
def cache(tiny_corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("cache")
    manifest = prepare.prepare(tiny_corpus, out, "pairs", fps=20.0, val_fraction=0.3, frontend_chunk_seconds=4.0, progress=False)
    return out, manifest


def test_load_takes_from_a_cache_uses_only_val_takes(cache):
    folder, manifest = cache
    val = [t["name"] for t in manifest["takes"] if t["split"] == "val"]
    takes = load_takes(folder, default_skeleton(), 20.0)
    assert [t.name for t in takes] == val and len(val) >= 1
    cached = np.load(folder / "motion-00000.npy")
    first = next(t for t in manifest["takes"] if t["name"] == val[0])
    from backend.motion.features import motion_to_features

    np.testing.assert_allclose(
        motion_to_features(takes[0].motion)[:, :450], cached[first["motion_start"] : first["motion_start"] + first["motion_frames"], :450], atol=1e-4
    )


def test_eval_names_a_folder_without_pairs(tmp_path, checkpoint, capsys):
    rc = main(["eval", "--checkpoint", str(checkpoint), "--data", str(tmp_path)])
    assert rc == 1
    assert str(tmp_path) in capsys.readouterr().err


def test_train_fgd_on_a_cache_then_eval_reports_fgd(cache, checkpoint, tmp_path):
    folder, _ = cache
    fgd_dir = tmp_path / "fgd"
    assert main(["train-fgd", str(folder), "-o", str(fgd_dir), "--epochs", "2", "--window", "20",
                 "--channels", "16", "--latent", "4"]) == 0
    meta = json.loads((fgd_dir / "config.json").read_text())
    assert meta["config"]["window"] == 20 and meta["config"]["feature_dim"] == 454
    assert len(meta["train_l1"]) == 2 and meta["val_l1"] > 0
    assert (fgd_dir / "model.safetensors").is_file() and (fgd_dir / "stats.safetensors").is_file()
    report_path = tmp_path / "report.json"
    assert main(["eval", "--checkpoint", str(checkpoint), "--data", str(folder), "--fgd", str(fgd_dir),
                 "--samples", "1", "--steps", "2", "-o", str(report_path)]) == 0
    gen = json.loads(report_path.read_text())["metrics"]["generated"]
    assert gen["fgd"] > 0


def test_train_fgd_names_a_folder_that_is_not_a_cache(tmp_path, capsys):
    assert main(["train-fgd", str(tmp_path), "-o", str(tmp_path / "out")]) == 1
    assert "manifest.json" in capsys.readouterr().err
