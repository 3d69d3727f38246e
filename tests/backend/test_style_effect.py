"""The style-effect evaluation: many speeches and reference pairs in one command, with a summary."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from backend.eval import style_effect
from backend.model.config import preset, scheduler_preset
from backend.pipeline import GesturePipeline
from model_samples import perturb


def test_summary_gives_medians_the_smallest_ratio_and_the_share_above_one():
    runs = [{"style_cm": 10.0, "seed_cm": 20.0, "ratio": 0.5}, {"style_cm": 30.0, "seed_cm": 20.0, "ratio": 1.5},
            {"style_cm": 24.0, "seed_cm": 20.0, "ratio": 1.2}]
    assert style_effect.summary(runs) == {"runs": 3, "median_style_cm": 24.0, "median_seed_cm": 20.0,
                                          "median_ratio": 1.2, "min_ratio": 0.5, "share_above_1": 0.67}


def _clip(path, seed, seconds=1.0, rate=16000):
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    wave = 0.3 * np.sin(2 * np.pi * rng.uniform(90, 300) * t) * (np.sin(2 * np.pi * rng.uniform(1, 4) * t) > 0)
    sf.write(path, (wave + 0.01 * rng.standard_normal(t.size)).astype(np.float32), rate)
    return path


def test_command_runs_every_pair_on_every_speech(tmp_path, capsys):
    folder = tmp_path / "ckpt"
    pipe = GesturePipeline.from_config(preset("tiny"), seed=0, scheduler=scheduler_preset("tiny"))
    perturb(pipe.model, scale=0.2)
    pipe.save_pretrained(folder)
    speeches = [_clip(tmp_path / f"speech{i}.wav", i) for i in range(2)]
    refs = [_clip(tmp_path / f"ref{i}.wav", 10 + i, seconds=1.5) for i in range(4)]
    argv = ["--checkpoint", str(folder), *map(str, speeches), "--references", *map(str, refs), "--guidance", "1.5"]
    assert style_effect.main(argv) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    runs, summary = lines[:-1], lines[-1]["summary"]
    assert [(r["speech"], tuple(r["references"])) for r in runs] == [
        ("speech0.wav", ("ref0.wav", "ref1.wav")), ("speech1.wav", ("ref0.wav", "ref1.wav")),
        ("speech0.wav", ("ref2.wav", "ref3.wav")), ("speech1.wav", ("ref2.wav", "ref3.wav"))]
    for r in runs:
        assert r["style_cm"] > 0 and r["seed_cm"] > 0
        assert r["ratio"] == pytest.approx(r["style_cm"] / r["seed_cm"], abs=0.011)
    assert summary["runs"] == 4 and summary["min_ratio"] == min(r["ratio"] for r in runs)
    assert summary["min_ratio"] <= summary["median_ratio"] <= max(r["ratio"] for r in runs)


def test_odd_reference_count_and_missing_files_are_refused(tmp_path, capsys):
    speech = _clip(tmp_path / "speech.wav", 0)
    with pytest.raises(SystemExit) as odd:
        style_effect.main(["--checkpoint", str(tmp_path), str(speech), "--references", str(speech)])
    assert odd.value.code == 2 and "pairs; got 1" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        style_effect.main(["--checkpoint", str(tmp_path), str(speech), "--references", str(speech), str(tmp_path / "gone.wav")])
    assert "gone.wav" in capsys.readouterr().err
