"""dimgesture bench: the growth-exponent fit, the models it measures, and a --tiny smoke run of every CPU section."""

import json

import numpy as np
import pytest
import torch

from backend.cli import main
from backend.eval.bench import models
from backend.eval.bench.denoiser import growth_exponent, run_probe
from backend.pipeline import GesturePipeline


def test_growth_exponent_recovers_power_laws():
    n = np.array([200, 600, 2000, 6000, 12000])
    assert growth_exponent(n, 3e-5 * n**1.5) == pytest.approx(1.5, abs=1e-9)
    assert growth_exponent(n, 0.002 * n) == pytest.approx(1.0, abs=1e-9)
    assert growth_exponent(n, 1e-9 * n**2 + 0 * n) == pytest.approx(2.0, abs=1e-9)
    assert np.isnan(growth_exponent([200], [0.1]))


def test_growth_exponent_with_noise_is_close():
    rng = np.random.default_rng(0)
    n = np.geomspace(200, 12000, 8)
    t = 1e-4 * n**1.2 * np.exp(rng.normal(0, 0.02, n.size))
    assert growth_exponent(n, t) == pytest.approx(1.2, abs=0.05)


def test_probe_reports_every_size_in_a_child_process():
    header, points, problem = run_probe({"preset": "tiny", "mixer": "mamba2", "frames": [32, 64], "repeats": 2}, timeout=120)
    assert problem is None
    assert header["params"] > 0 and header["rss_mb"] > 0
    assert [p["frames"] for p in points] == [32, 64]
    for p in points:
        assert 1 <= p["runs"] <= 2 and p["median_s"] > 0 and p["peak_mb"] > 0 and p["activation_mb"] >= 0


@pytest.mark.slow
def test_bench_tiny_writes_json_and_plots(tmp_path, capsys):
    assert main(["bench", "--quick", "--tiny", "--out", str(tmp_path)]) == 0  # --tiny wins over --quick
    out = capsys.readouterr().out
    assert "time exponent" in out and "RTF" in out
    data = json.loads((tmp_path / "bench.json").read_text())
    assert data["mode"] == "tiny"
    for section in ("scaling", "samplers", "e2e"):
        assert data[section]["run"]["cores"] >= 1 and data[section]["run"]["seconds"] > 0
    scaling = data["scaling"]
    assert set(scaling["mixers"]) == {"mamba2", "attention", "attention_math"}
    for mixer in ("mamba2", "attention", "attention_math"):
        assert scaling["mixers"][mixer]["problem"] is None
        points = scaling["mixers"][mixer]["points"]
        assert [p["frames"] for p in points] == [64, 256]
        assert all(p["median_s"] > 0 and p["peak_mb"] > 0 for p in points)
        assert np.isfinite(scaling["mixers"][mixer]["time_exponent"])
    assert [r["frames"] for r in scaling["ratios"]] == [64, 256]
    assert all(r["time_attention_math_over_mamba2"] > 0 for r in scaling["ratios"])
    runs = data["samplers"]["runs"]
    assert (runs[0]["sampler"], runs[0]["steps"]) == ("ddpm", 20)
    assert {(r["sampler"], r["steps"]) for r in runs[1:]} == {("ddim", 5), ("dpmsolver++", 5)}
    assert all(r["median_s"] > 0 for r in runs)
    assert all(r["metrics"]["fd_positions"] > 0 for r in runs[1:]) and "fd_positions" not in runs[0]["metrics"]
    assert data["samplers"]["model"].startswith("random 'tiny' model")  # --tiny measures a random model, and says so
    e2e = data["e2e"]
    assert e2e["pipeline"]["rtf"] > 0 and e2e["pipeline"]["speech_seconds"] == 3.0
    keys = e2e["keyframes"]
    # bpy is a test dependency (make setup installs it), so the keyframe benchmark must really run here:
    # a crash or a timeout reports {"skipped": why} and must fail this test
    assert "skipped" not in keys, keys.get("skipped")
    assert keys["keys"] == (75 * 4 + 3) * 100 and keys["apply_s"] > 0 and keys["retarget_s"] > 0
    tables = (tmp_path / "tables.md").read_text()
    assert "| 256 | 12.8 s |" in tables and "| ddpm | 20 |" in tables and "real-time factor" in tables
    for name in ("scaling_time.png", "scaling_memory.png", "samplers.png"):
        assert (tmp_path / name).stat().st_size > 1000


def test_models_load_checkpoints_through_the_one_loader_and_label_random_weights():
    pipe, label = models.load(None)  # the bundled demo, as `dimgesture generate` loads it
    assert label == "checkpoint checkpoints/demo"
    reference = GesturePipeline.from_pretrained(None)
    assert all(torch.equal(a, b) for a, b in zip(pipe.model.state_dict().values(), reference.model.state_dict().values()))
    pipe, label = models.random_model("tiny", mixer="attention")
    assert label == "random 'tiny' model (quality figures are meaningless)"
    assert (pipe.model.config.mixer, pipe.model.config.hidden, pipe.model.config.depth) == ("attention", 64, 2)
    assert pipe.scheduler.config.steps == 10  # the tiny preset's scheduler, not SchedulerConfig()'s 50
    again, _ = models.random_model("tiny", mixer="attention")  # seed 0: the same weights every time
    assert all(torch.equal(a, b) for a, b in zip(pipe.model.state_dict().values(), again.model.state_dict().values()))


def test_bench_help_lists_the_flags(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["bench", "--help"])
    assert exit_info.value.code == 0
    out = " ".join(capsys.readouterr().out.split())  # argparse wraps to the terminal's width
    for flag in ("--quick", "--tiny", "--gpu", "--sections", "--checkpoint", "--data", "--threads", "--out"):
        assert flag in out
    assert "scaling,samplers,e2e,startup,scale" in out


def test_bench_rejects_unknown_sections(tmp_path, capsys):
    assert main(["bench", "--tiny", "--sections", "nope", "--out", str(tmp_path)]) == 1
    assert "unknown bench section" in capsys.readouterr().err


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_bench_gpu_without_cuda_is_refused(tmp_path, capsys):
    assert main(["bench", "--gpu", "--out", str(tmp_path)]) == 1
    assert "CUDA is not available" in capsys.readouterr().err


def test_measure_denoiser_in_process_with_bf16_autocast_and_plain_attention():
    """The code path the GPU section uses (in-process, autocast, forced math attention), on CPU."""
    from backend.eval.bench.probe import measure_denoiser

    model = models.random_model("tiny", mixer="attention")[0].model
    points = list(measure_denoiser(model, [16, 32], repeats=1, dtype="bfloat16", attention_backend="math"))
    assert [p["frames"] for p in points] == [16, 32] and all(p["median_s"] > 0 for p in points)
    with pytest.raises(ValueError, match="attention backend"):
        list(measure_denoiser(model, [16], attention_backend="nope"))


def test_gpu_section_code_path_runs_on_cpu_with_tiny_sizes(tmp_path):
    """``--gpu`` cannot run here; its function runs on CPU with a tiny model and a tiny WavLM."""
    from transformers import WavLMConfig

    from backend.eval.bench.gpu import bench_gpu
    from backend.eval.bench.plots import plot

    wavlm = WavLMConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                        conv_dim=(32,) * 7, num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2)
    lines = []
    out = bench_gpu(lines.append, device="cpu", preset_name="tiny", frames=[16, 32], wavlm_config=wavlm,
                    speech_seconds=1.0, samplers=(("ddpm", 3), ("dpmsolver++", 2)), repeats=1)
    assert out["mamba_ssm_kernel"] is False and set(out["params"]) == {"mamba2", "attention"}
    assert out["model"] == "random 'tiny' model (quality figures are meaningless); WavLM 2 x 32, random"
    assert out["fps"] == 20.0
    assert set(out["scaling"]) == {f"{m}/{d}" for m in ("mamba2", "attention") for d in ("float32", "bfloat16", "float16")}
    assert all([p["frames"] for p in v["points"]] == [16, 32] for v in out["scaling"].values())
    assert out["wavlm_s"]["float32"] > 0 and out["wavlm_s"]["float16"] > 0
    assert set(out["end_to_end"]) == {"ddpm-3", "dpmsolver++-2"}
    assert all(v["rtf"] > 0 for v in out["end_to_end"].values())
    assert any("WavLM" in line for line in lines)
    assert plot({"gpu": out}, tmp_path) == ["gpu_scaling.png"] and (tmp_path / "gpu_scaling.png").stat().st_size > 1000


def test_cold_process_sections_report_startup_cli_batch_and_blender(tmp_path, capsys):
    assert main(["bench", "--tiny", "--sections", "startup,scale", "--out", str(tmp_path)]) == 0
    data = json.loads((tmp_path / "bench.json").read_text())
    startup = data["startup"]
    assert len(startup["runs"]) == 2
    assert startup["heavy_modules"] == [], startup["heavy_modules"]  # nothing heavy on the generation path
    for key in ("import_torch_s", "backend_imports_s", "load_s", "first_call_s", "process_s"):
        assert startup["median"][key] > 0
    scale = data["scale"]
    assert [c["speech_seconds"] for c in scale["cli"]] == [2.0] and scale["cli"][0]["wall_s"] > 0
    assert scale["batch"]["clips"] == 4 and scale["batch"]["summary"][0].split()[:2] == ["ok", "4"]
    blender = scale["blender"]
    # bpy is a test dependency (make setup installs it): the Blender figures must really be measured here
    assert "skipped" not in blender, blender.get("skipped")
    assert blender["first_s"] > 0 and blender["second_s"] > 0 and blender["warm_first_s"] > 0
    tables = (tmp_path / "tables.md").read_text()
    assert "start-up over import torch" in tables and "--manifest (4 clips)" in tables


def test_breakdown_skips_only_the_scan_and_restores_it():
    from backend.eval.bench.breakdown import breakdown, format_table, scans_skipped
    from backend.nn.shared_bidirectional import SharedBidirectionalMamba2

    mixer = SharedBidirectionalMamba2(d_model=32, d_state=8, headdim=16, chunk_size=16)
    for frames in (40, 150, 900):  # the matrix form, the chunked scan in one pass, the segmented pass
        x = torch.randn(1, frames, 32)
        with torch.no_grad():
            full = mixer(x)
            with scans_skipped(True):
                skipped = mixer(x)
            # with zero scans only the D-skip of x passes the gated norm: not the full mixer's output
            assert skipped.shape == full.shape and not torch.allclose(skipped, full)
            assert torch.equal(mixer(x), full)  # the scans are back after the block
            with scans_skipped(False):
                assert torch.equal(mixer(x), full)

    result = breakdown([24], rounds=1, calls=1, preset="tiny")
    assert set(result[24]) == {"dit", "mamba2", "mamba2_without_scan", "multiply_adds"}
    assert all(result[24][v] > 0 for v in ("dit", "mamba2", "mamba2_without_scan"))
    # tiny: hidden 64. Attention: q, k, v and out projections (4 d^2 per frame) and Q K^T, A V (2 T^2 d)
    macs = result[24]["multiply_adds"]
    assert macs["dit"] == 4 * 64 * 64 * 24 + 2 * 24 * 24 * 64
    # Mamba-2: its in- and out-projections per frame, and the SSD's products on top
    mamba = SharedBidirectionalMamba2(d_model=64, d_state=16, headdim=16, expand=2)  # tiny's mixer in the shared layout
    assert macs["mamba2"] > 24 * (mamba.in_proj.weight.numel() + mamba.out_proj.weight.numel())
    assert "| 24 |" in format_table(result) and f"{macs['dit'] / 1e6:.1f} / {macs['mamba2'] / 1e6:.1f}" in format_table(result)


def test_mixer_ceilings_time_each_mixer_alone(monkeypatch):
    from backend.eval.bench import breakdown
    from backend.eval.bench.breakdown import format_ceilings, main, mixer_ceilings
    from backend.eval.bench.models import random_model

    result = mixer_ceilings([24, 40], rounds=1, preset="tiny", calls=1)
    assert list(result) == [24, 40]
    assert set(result[24]) == {"attention", "mamba2", "mamba2_one_direction"}  # no compiled mixer unless asked
    assert all(ms > 0 for r in result.values() for ms in r.values())
    table = format_ceilings(result)
    assert table.count("\n| ") == 2 and "(1.00)" in table  # attention is the yardstick of its own row
    built = []
    monkeypatch.setattr(breakdown, "random_model", lambda name, **changes: built.append(changes) or random_model(name, **changes))
    smaller = mixer_ceilings([24], rounds=1, preset="tiny", calls=1, d_state=4)
    assert set(smaller[24]) == set(result[24])
    assert [c.get("d_state") for c in built] == [None, 4, 4]  # the Mamba-2 mixers only, not attention
    for flags in (["--compile"], ["--d-state", "16"]):  # both only with --mixers
        with pytest.raises(SystemExit):
            main(flags)
