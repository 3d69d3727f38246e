"""style_follows: generated motion per reference speaker beside that speaker's own corpus motion."""

from __future__ import annotations

import json
import shutil

import pytest

from backend.corpus.takes import make_corpus, plan_takes
from backend.eval import style_follows
from backend.eval.motion_stats import ROWS, iter_motions, motion_statistics
from backend.model.config import preset, scheduler_preset
from backend.pipeline import GesturePipeline

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """Six 3 s takes by three speakers, every one gestured with another speaker's habits (seed 9 of this
    plan swaps all six and leaves each speaker two takes of their habits)."""
    plans = plan_takes(9, 0, (3.0, 3.0), 20.0, takes=6, speakers=3, style_swap=0.5)
    assert sorted(p.style_speaker for p in plans) == [0, 0, 1, 1, 2, 2] and all(p.style_speaker != p.speaker for p in plans)
    out = tmp_path_factory.mktemp("corpus")
    make_corpus(out, plans, progress=False)
    return out


def test_speaker_motion_is_the_motion_gestured_by_that_speaker(corpus):
    speakers = style_follows.take_speakers(corpus)
    metas = {name: json.loads((corpus / f"{name}.json").read_text()) for name in speakers}
    assert speakers == {n: (str(m["speaker"]), str(m["style_speaker"])) for n, m in metas.items()}
    assert all(voice != style for voice, style in speakers.values())  # all swapped: voice and habits disagree
    for name, (voice, _) in speakers.items():
        gestured_by = [n for n, (_, style) in speakers.items() if style == voice]
        assert len(gestured_by) == 2
        expected = motion_statistics(m for n in gestured_by for m in iter_motions(corpus / f"{n}.bvh"))
        assert style_follows.speaker_motion(corpus, speakers, voice) == expected
        assert name not in gestured_by


def test_correlations_per_statistic():
    truth = [{row: float(i) for row in ROWS} for i in range(3)]
    generated = [{row: (2.0 * i if row == "hand_height" else -float(i)) for row in ROWS} for i in range(3)]
    result = style_follows.correlations(truth, generated)
    assert result["hand_height"] == 1.0 and result["hip_speed_median"] == -1.0 and set(result) == set(ROWS)
    still = [{**g, "head_speed_median": 0.5} for g in generated]
    assert style_follows.correlations(truth, still)["head_speed_median"] is None  # undefined, not NaN


def test_command_prints_each_speaker_and_the_correlations(corpus, tmp_path, capsys):
    folder = tmp_path / "ckpt"
    GesturePipeline.from_config(preset("tiny"), seed=0, scheduler=scheduler_preset("tiny")).save_pretrained(folder)
    speakers = style_follows.take_speakers(corpus)
    references = [corpus / f"take_0000{i}.wav" for i in range(3)]  # speakers 0, 1, 2
    argv = ["--checkpoint", str(folder), "--corpus", str(corpus), str(corpus / "take_00000.wav"),
            "--references", *map(str, references), "--style-strength", "2"]
    assert style_follows.main(argv) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["reference"] for line in lines[:-1]] == [p.name for p in references]
    for line, path in zip(lines, references):
        assert line["speaker"] == speakers[path.stem][0]
        assert line["speaker_motion"] == style_follows.speaker_motion(corpus, speakers, line["speaker"])
        assert line["speaker_motion"]["seconds"] == pytest.approx(6.0, abs=0.2)  # the speaker's two gestured takes
        assert line["generated"]["seconds"] == pytest.approx(3.0, abs=0.1)  # the one speech clip
    correlation = lines[-1]["correlation"]
    assert set(correlation) == set(ROWS) and all(v is None or -1 <= v <= 1 for v in correlation.values())


def test_references_must_be_three_corpus_speakers(corpus, tmp_path, capsys):
    base = ["--checkpoint", str(tmp_path), "--corpus", str(corpus), str(corpus / "take_00000.wav"), "--references"]
    with pytest.raises(SystemExit):
        style_follows.main([*base, str(corpus / "take_00000.wav"), str(corpus / "take_00001.wav")])
    assert "at least three clips of different speakers" in capsys.readouterr().err
    stray = tmp_path / "stray.wav"
    shutil.copy(corpus / "take_00000.wav", stray)
    with pytest.raises(SystemExit):
        style_follows.main([*base, str(stray), str(corpus / "take_00001.wav"), str(corpus / "take_00002.wav")])
    assert "stray.wav" in capsys.readouterr().err
