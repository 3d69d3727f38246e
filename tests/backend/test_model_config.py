"""ModelConfig: JSON round trip, strict parsing, presets within their size budgets."""

from __future__ import annotations

import json

import pytest
import torch

from backend.model.config import PRESETS, FrontendConfig, ModelConfig, preset
from backend.model.gesture import GestureModel


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_round_trip(name):
    cfg = preset(name)
    assert ModelConfig.from_json(cfg.to_json()) == cfg
    assert json.loads(cfg.to_json())["frontend"]["kind"] == cfg.frontend.kind


def test_preset_is_a_copy():
    cfg = preset("tiny")
    cfg.hidden = 8
    assert PRESETS["tiny"].hidden == 64


@pytest.mark.parametrize(
    "data, fragment",
    [
        ({"hiden": 3}, "unknown key(s) hiden"),
        ({"frontend": {"kind": "mel", "colour": 1}}, "frontend.colour"),
        ({"depth": "6"}, "depth has the wrong type"),
        ({"depth": True}, "depth has the wrong type"),
        ({"mixer": "lstm"}, "mixer must be one of mamba2, attention"),
        ({"diffusion": {"prediction_type": "x"}}, "prediction_type"),
        ({"sampler": {"name": "euler"}}, "sampler.name"),
        ({"frontend": {"kind": "wavlm"}}, "wavlm_path is required"),
        ({"hidden": 100, "headdim": 64}, "multiple of headdim"),
        ({"frontend": []}, "expected an object"),
    ],
)
def test_bad_configs_are_refused_with_the_key(data, fragment):
    with pytest.raises(ValueError) as info:
        ModelConfig.from_dict(data)
    assert fragment in str(info.value)


def test_ints_accepted_for_floats_and_replace():
    cfg = ModelConfig.from_dict({"fps": 30, "frontend": {"kind": "mel", "n_mels": 40}})
    assert cfg.fps == 30.0 and isinstance(cfg.fps, float) and cfg.frontend.dim == 40
    other = cfg.replace(hidden=128, frontend=FrontendConfig(kind="wavlm", wavlm_path="x", wavlm_dim=768))
    assert other.hidden == 128 and other.frontend.dim == 768 and cfg.hidden == 256


def count(cfg: ModelConfig) -> int:
    with torch.device("meta"):
        return sum(p.numel() for p in GestureModel(cfg).parameters())


def test_preset_sizes():
    tiny, small, paper = count(preset("tiny")), count(preset("small")), count(preset("paper"))
    assert tiny < 1_000_000
    assert tiny < small < paper
    paper_cfg = preset("paper")
    assert (paper_cfg.depth, paper_cfg.hidden, paper_cfg.frontend.wavlm_layer) == (12, 1280, 12)
    assert (paper_cfg.diffusion.num_train_timesteps, paper_cfg.diffusion.beta_schedule) == (1000, "linear")
    assert (paper_cfg.sampler.name, paper_cfg.sampler.steps) == ("ddpm", 1000)
