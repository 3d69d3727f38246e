"""The alternating Mamba-2 vs DiT comparison of ``dimgesture bench``: ratios within a round, medians over rounds."""

import json
import math

from backend.eval.bench.denoiser import compare_denoisers, main
from backend.eval.bench.report import comparison, render


def test_rounds_alternate_both_denoisers_and_ratios_are_taken_within_a_round():
    lines = []
    result = compare_denoisers("tiny", [32, 64], threads=[1], rounds=2, log=lines.append, repeats=1, budget_s=1.0)
    data = result["by_threads"]["1"]
    assert data["problems"] == []
    assert [s["frames"] for s in data["sizes"]] == [32, 64]
    for s in data["sizes"]:
        assert s["rounds"] == 2 and len(s["ratios"]) == 2
        assert all(r > 0 for r in s["ratios"])
        assert min(s["ratios"]) <= s["mamba2_over_attention"] <= max(s["ratios"])
        assert s["mamba2_s"] > 0 and s["attention_s"] > 0 and s["mamba2_mb"] >= 0 and s["mamba2_over_attention_cpu"] > 0
    raw = data["raw"]
    assert len(raw["mamba2"]) == len(raw["attention"]) == 2
    first = raw["mamba2"][0]["32"]["median_s"] / raw["attention"][0]["32"]["median_s"]
    assert math.isclose(data["sizes"][0]["ratios"][0], first)
    assert [line.split(",")[1].strip() for line in lines] == ["round 1", "round 1", "round 2", "round 2"]
    assert math.isfinite(data["time_exponents"]["mamba2"]["all"])
    table = render(comparison(result), "markdown")
    assert "| 32 |" in table and "| 64 |" in table and "Time exponents" in table


def test_the_comparison_runs_on_its_own_and_writes_its_json(tmp_path, capsys):
    """``python -m backend.eval.bench.denoiser``: the same comparison, printed as Markdown, JSON on request."""
    assert main(["--preset", "tiny", "--frames", "32", "--threads", "1", "--rounds", "1", "--json", str(tmp_path / "c.json")]) == 0
    out = capsys.readouterr().out
    assert "1 torch thread(s), tiny preset, batch 1, medians over 1 rounds:" in out and "| 32 |" in out
    saved = json.loads((tmp_path / "c.json").read_text())
    assert (saved["preset"], saved["frames"], saved["rounds"]) == ("tiny", [32], 1)
    assert [s["frames"] for s in saved["by_threads"]["1"]["sizes"]] == [32]
