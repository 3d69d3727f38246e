"""ModelConfig and SchedulerConfig: JSON round trip, strict parsing, legacy keys, presets within their size budgets."""

from __future__ import annotations

import json

import pytest
import torch

from backend.config_parsing import ConfigError, rename_legacy
from backend.model.config import PRESETS, SCHEDULER_PRESETS, FrontendConfig, ModelConfig, SchedulerConfig, preset, scheduler_preset
from backend.model.gesture import GestureModel


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_round_trip(name):
    cfg = preset(name)
    assert ModelConfig.from_json(cfg.to_json()) == cfg
    assert json.loads(cfg.to_json())["frontend"]["kind"] == cfg.frontend.kind
    scheduler = scheduler_preset(name)
    assert SchedulerConfig.from_dict(json.loads(json.dumps(scheduler.to_dict()))) == scheduler


def test_preset_is_a_copy():
    cfg = preset("tiny")
    cfg.hidden = 8
    assert PRESETS["tiny"].hidden == 64


@pytest.mark.parametrize(
    "data, fragment",
    [
        ({"hiden": 3}, "unknown config key(s) model.hiden"),
        ({"frontend": {"kind": "mel", "colour": 1}}, "model.frontend.colour"),
        ({"depth": "6"}, "model.depth has the wrong type"),
        ({"depth": True}, "model.depth has the wrong type"),
        ({"mixer": "lstm"}, "model.mixer must be one of mamba2, attention"),
        ({"dropout": 0.1}, "unknown config key(s) model.dropout"),
        ({"sampler": {"name": "euler"}}, "unknown config key(s) model.sampler"),
        ({"frontend": {"kind": "wavlm"}}, "wavlm_path is required"),
        ({"hidden": 100, "headdim": 64}, "multiple of model.headdim"),
        ({"frontend": []}, "model.frontend: expected an object"),
    ],
)
def test_bad_configs_are_refused_with_the_key(data, fragment):
    with pytest.raises(ValueError) as info:
        ModelConfig.from_dict(data)
    assert fragment in str(info.value)


@pytest.mark.parametrize(
    "data, fragment",
    [
        ({"prediction_type": "x"}, "scheduler.prediction_type"),
        ({"sampler": "euler"}, "scheduler.sampler must be one of ddpm, ddim, dpmsolver++"),
        ({"steps": 0}, "scheduler.steps must be between 1"),
        ({"style_scale": -1.0}, "scheduler.style_scale must be >= 0"),
        ({"name": "ddim"}, "unknown config key(s) scheduler.name"),
    ],
)
def test_bad_scheduler_configs_are_refused_with_the_key(data, fragment):
    with pytest.raises(ConfigError) as info:
        SchedulerConfig.from_dict(data)
    assert fragment in str(info.value)


def test_legacy_keys_move_to_their_sections():
    """A format-1 checkpoint's config.json (as the bundled demo has it) and an old run config's model section."""
    v1 = {"fps": 20.0, "frontend": {"kind": "mel"}, "sampler": {"name": "ddpm", "steps": 9, "guidance_scale": 1.0,
          "smooth_seconds": 0.25}, "model": {"hidden": 64, "dropout": 0.1, "diffusion": {"prediction_type": "sample",
          "cond_drop_prob": 0.2}}}
    assert rename_legacy(v1, "x") == {
        "data": {"fps": 20.0},
        "model": {"frontend": {"kind": "mel"}, "hidden": 64},
        "scheduler": {"sampler": "ddpm", "steps": 9, "guidance_scale": 1.0, "prediction_type": "sample"},
        "output": {"smooth_seconds": 0.25},
        "train": {"dropout": 0.1, "cond_drop_prob": 0.2},
    }
    old_run = {"model": {"fps": 30, "sampler": {"name": "ddim"}}, "data": {"window_seconds": 4.0}}
    assert rename_legacy(old_run, "x") == {"data": {"fps": 30, "train_window_seconds": 4.0}, "scheduler": {"sampler": "ddim"}}
    with pytest.raises(ConfigError, match=r"x: data.window_seconds and data.train_window_seconds set the same thing"):
        rename_legacy({"data": {"window_seconds": 4.0, "train_window_seconds": 2.0}}, "x")


def test_ints_accepted_for_floats_and_replace():
    cfg = ModelConfig.from_dict({"mlp_ratio": 2, "frontend": {"kind": "mel", "n_mels": 40}})
    assert cfg.mlp_ratio == 2.0 and isinstance(cfg.mlp_ratio, float) and cfg.frontend.dim == 40
    other = cfg.replace(hidden=128, frontend=FrontendConfig(kind="wavlm", wavlm_path="x", wavlm_dim=768))
    assert other.hidden == 128 and other.frontend.dim == 768 and cfg.hidden == 256


def count(cfg: ModelConfig) -> int:
    with torch.device("meta"):
        return sum(p.numel() for p in GestureModel(cfg.replace(pose_dim=454)).parameters())


def test_preset_sizes():
    tiny, small, paper = count(preset("tiny")), count(preset("small")), count(preset("paper"))
    assert tiny < 1_000_000
    assert tiny < small < paper
    paper_cfg = preset("paper")
    assert (paper_cfg.depth, paper_cfg.hidden, paper_cfg.frontend.wavlm_layer) == (12, 1280, 12)
    paper_scheduler = scheduler_preset("paper")
    assert (paper_scheduler.num_train_timesteps, paper_scheduler.beta_schedule) == (1000, "linear")
    assert (paper_scheduler.sampler, paper_scheduler.steps) == ("ddpm", 1000)
    assert set(SCHEDULER_PRESETS) == set(PRESETS)


def test_a_model_needs_its_pose_dim():
    with pytest.raises(ValueError, match="model.pose_dim is not set"):
        GestureModel(preset("tiny"))
