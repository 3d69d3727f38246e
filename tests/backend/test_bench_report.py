"""dimgesture bench's report: each section's table, as Markdown and as terminal text, and the bench.json merge."""

import json

from backend.eval.bench import report
from backend.eval.bench.report import Table


def point(frames, seconds, mb, runs=3):
    return {"frames": frames, "median_s": seconds, "activation_mb": mb, "runs": runs}


def scaling_result(**extra):
    mixer = lambda label, params, points, t, tl, ml: {  # noqa: E731
        "label": label, "params": params, "points": points, "time_exponent": t, "time_exponent_large": tl,
        "memory_exponent_large": ml}
    return {"preset": "small", "threads": 1, "batch": 1, **extra, "mixers": {
        "mamba2": mixer("AdaLN Mamba-2", 11431910, [point(200, 0.1, 14.0), point(2400, 1.25, 300.0, 2)], 1.04, 1.12, 0.84),
        "attention": mixer("DiT", 7829702, [point(200, 0.05, 12.0), point(2400, 2.5, 290.0, 1)], 1.44, float("nan"), None)}}


COMPARISON = {"preset": "small", "rounds": 2, "by_threads": {"1": {
    "sizes": [{"frames": 2000, "mamba2_s": 2.26, "attention_s": 1.519, "mamba2_over_attention": 1.5, "ratios": [1.52, 1.48],
               "mamba2_over_attention_cpu": 1.44, "mamba2_mb": 31.2, "attention_mb": 44.0, "rounds": 2}],
    "time_exponents": {"mamba2": {"all": 1.0, "from_2000": 0.96}, "attention": {"all": 1.36, "from_2000": 1.62}},
    "problems": ["attention, round 2: stopped after 60 s"]}}}

SAMPLERS = {"model": "checkpoint checkpoints/demo", "clip": "demo, first 4 s", "clip_seconds": 4.0, "seeds": 2,
            "reference": "ddpm-1000",
            "runs": [{"sampler": "ddpm", "steps": 1000, "median_s": 30.1, "speedup_vs_reference": 1.0,
                      "metrics": {"beat_align": 0.671, "jerk_mean": 2551.0}},
                     {"sampler": "ddim", "steps": 10, "median_s": 0.316, "speedup_vs_reference": 95.25,
                      "metrics": {"fd_positions": 4321.0, "beat_align": 0.708, "jerk_mean": 10200.0}}],
            "ground_truth": {"beat_align": 0.681, "jerk_mean": 2510.0}}

E2E = {"pipeline": {"model": "checkpoint checkpoints/demo", "sampler": "dpmsolver++", "steps": 20, "speech_seconds": 60.0,
                    "total_s": 3.09, "times_s": [3.06, 3.11], "frontend_s": 0.00671, "rtf": 0.0514},
       "keyframes": {"skipped": "keyframe benchmark failed: no output"}}

STARTUP = {"median": {"import_torch_s": 1.481, "backend_imports_s": 0.05, "load_s": 0.06, "first_call_s": 0.47,
                      "process_s": 2.79}, "over_import_torch_s": 0.11, "heavy_modules": []}

SCALE = {"cli": [{"speech_seconds": 10.0, "wall_s": 3.23, "real_time_factor": 0.323}],
         "batch": {"clips": 100, "speech_seconds": 300.0, "wall_s": 51.5},
         "blender": {"skipped": "Blender benchmark failed: no output"}}


def test_a_table_renders_as_markdown_and_as_aligned_text():
    table = Table(["name", "seconds"], [["import torch", "**1.48**"], ["load", "0.06"]])
    assert table.markdown() == ["| name | seconds |", "|---|---|", "| import torch | **1.48** |", "| load | 0.06 |"]
    assert table.text() == ["name          seconds", "------------  -------", "import torch     1.48", "load             0.06"]
    assert Table(["a"], [["1"]], align="---:").markdown()[1] == "|---:|"
    assert report.render(["**bold** line", table], "text").splitlines()[0] == "bold line"
    assert report.render(["**bold** line"], "markdown") == "**bold** line"


def test_figures_keep_three_significant_digits_and_show_missing_ones_as_a_dash():
    assert [report.fmt(v) for v in (0.0881, 1385.7, 12, 0.0, 0.00042, None, float("nan"))] == \
        ["0.0881", "1.39e+03", "12", "0", "4.20e-04", "-", "-"]
    assert report.fmt(1.7234, 2) == "1.7"


def test_scaling_rows_convert_frames_to_speech_at_the_models_fps():
    lines = report.render(report.scaling(scaling_result()), "markdown").splitlines()
    assert lines[0] == ("| frames | speech | AdaLN Mamba-2: s/call | DiT: s/call | AdaLN Mamba-2: MB/call | DiT: MB/call | "
                        "DiT / Mamba-2 time |")
    assert lines[1] == "|---|---|---|---|---|---|---|"
    # no "fps" in results written before it was recorded: the small preset's 20 fps
    assert lines[2] == "| 200 | 10 s | 0.1 | 0.05 | 14 | 12 | 0.5x |"
    assert lines[3] == "| 2,400 | 2 min | 1.25 | 2.5 | 300 | 290 | 2x |"
    assert lines[7] == "| AdaLN Mamba-2 | 11,431,910 | 1.04 | 1.12 | 0.84 | 3/2 |"
    assert lines[8] == "| DiT | 7,829,702 | 1.44 | - | - | 3/1 |"
    at_25 = report.render(report.scaling(scaling_result(fps=25.0)), "markdown").splitlines()
    assert at_25[2].startswith("| 200 | 8 s |") and at_25[3].startswith("| 2,400 | 96 s |")


def test_the_alternating_comparison_shows_in_round_ratios_exponents_and_problems():
    text = report.render(report.scaling(scaling_result(mamba_vs_dit=COMPARISON)), "markdown")
    assert "1 torch thread(s), small preset, batch 1, medians over 2 rounds:" in text
    assert "| 2,000 | 2.26 | 1.519 | **1.50** (1.52, 1.48) | 0.67x | 1.44 | 31 | 44 |" in text
    assert "|---:|---:|---:|---:|---:|---:|---:|---:|" in text
    assert "Time exponents (all sizes / from 2,000 frames): Mamba-2 1.00 / 0.96, DiT (SDPA) 1.36 / 1.62." in text
    assert "Problem: attention, round 2: stopped after 60 s." in text


def test_sampler_table_has_a_column_per_metric_present_and_the_real_motion_last():
    lines = report.render(report.samplers(SAMPLERS), "markdown").splitlines()
    assert lines[0] == "Model: checkpoint checkpoints/demo. Clip: demo, first 4 s. Seeds: 2."
    assert lines[2] == "| sampler | steps | s/clip (median) | speed-up vs ddpm-1000 | fd_positions | beat_align | jerk_mean |"
    assert lines[4:7] == ["| ddpm | 1000 | 30.1 | 1x | - | 0.671 | 2.55e+03 |",
                          "| ddim | 10 | 0.316 | 95.2x | 4.32e+03 | 0.708 | 1.02e+04 |",
                          "| ground truth | - | - | - | - | 0.681 | 2.51e+03 |"]


def test_end_to_end_startup_and_scale_sentences_and_tables():
    e2e = report.render(report.e2e(E2E), "markdown").split("\n")
    assert e2e == ["Pipeline (checkpoint checkpoints/demo, dpmsolver++ 20 steps): 60 s of speech in 3.09 s (median of 2; "
                   "frontend 0.00671 s): real-time factor 0.0514.",
                   "Keyframes: skipped (keyframe benchmark failed: no output).", ""]
    startup = report.render(report.startup(STARTUP), "markdown").splitlines()
    assert startup[2:4] == ["| import torch | 1.48 |", "| backend imports | 0.05 |"]
    assert startup[5] == "| first call (2 s clip) | 0.47 |"
    assert startup[7] == "| **start-up over import torch** (imports + load) | **0.11** |"
    assert startup[9] == "Heavy modules imported on the way: none."
    scale = report.render(report.scale(SCALE), "markdown").split("\n")
    assert scale[2:4] == ["| dimgesture generate | 10 s | 3.2 | 0.323 |",
                          "| dimgesture generate --manifest (100 clips) | 300 s | 51.5 | 0.172 |"]
    assert scale[4:] == ["", "Blender: skipped (Blender benchmark failed: no output).", ""]


def test_markdown_puts_the_sections_present_in_order_and_the_terminal_shows_one():
    results = {"mode": "full", "scale": SCALE, "samplers": SAMPLERS, "gpu": {"device": "H100"}}
    text = report.markdown(results)
    assert text.index("Model: checkpoint") < text.index("| command (cold process) |")
    assert "frames" not in text.split("\n")[0]  # no scaling section: the samplers come first
    assert report.terminal(results, "gpu") == ""
    terminal = report.terminal(results, "scale").splitlines()
    assert terminal[0] == "command (cold process)                      speech  wall s  x real time"
    assert terminal[2] == "dimgesture generate                           10 s     3.2        0.323"


def test_a_run_replaces_its_sections_and_keeps_the_others_of_the_same_mode(tmp_path):
    path = tmp_path / "bench.json"
    assert report.load(path, "full") == {"mode": "full", "commands": {}}
    results = report.load(path, "full")
    report.record(results, "samplers", {"model": "a"}, "dimgesture bench --sections samplers", {"seconds": 1.0})
    report.record(results, "e2e", {"rtf": float("nan")}, "dimgesture bench --sections e2e", {"seconds": 2.0})
    report.save(path, results)
    assert json.loads(path.read_text()) == {
        "mode": "full",
        "commands": {"samplers": "dimgesture bench --sections samplers", "e2e": "dimgesture bench --sections e2e"},
        "samplers": {"model": "a", "run": {"seconds": 1.0}},
        "e2e": {"rtf": None, "run": {"seconds": 2.0}},  # NaN is written as null: strict JSON
    }
    again = report.load(path, "full")
    report.record(again, "samplers", {"model": "b"}, "dimgesture bench --sections samplers", {"seconds": 3.0})
    report.save(path, again)
    saved = json.loads(path.read_text())
    assert saved["samplers"] == {"model": "b", "run": {"seconds": 3.0}} and saved["e2e"]["run"] == {"seconds": 2.0}
    assert list(saved) == ["mode", "commands", "samplers", "e2e"]
    # another mode starts afresh: quick figures must not sit beside full ones
    assert report.load(path, "quick") == {"mode": "quick", "commands": {}}
