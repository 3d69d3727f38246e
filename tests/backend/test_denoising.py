"""The denoising loop (backend/denoising.py): samplers on a condition (determinism, guidance, progress, cancel)."""

from __future__ import annotations

import pytest
import torch

from backend.errors import Cancelled
from backend.denoising import denoise
from backend.model.config import SchedulerConfig, preset
from backend.model.gesture import GestureModel
from backend.model.schedulers import GestureScheduler
from model_samples import open_gates

SAMPLERS = ["ddpm", "ddim", "dpmsolver++"]


def trained_looking(cfg) -> GestureModel:
    torch.manual_seed(0)
    return open_gates(GestureModel(cfg)).eval()


@pytest.fixture(scope="module")
def setup():
    cfg = preset("tiny").replace(pose_dim=12)
    audio = torch.randn(1, 30, cfg.frontend.dim, generator=torch.Generator().manual_seed(2))
    return cfg, trained_looking(cfg), GestureScheduler(SchedulerConfig()), audio


def sample(scheduler, model, audio, sampler, seed, **kwargs):
    kwargs.setdefault("steps", 4)
    cond = model.condition(audio, 10)
    return denoise(model, scheduler, cond, sampler=sampler, generator=torch.Generator().manual_seed(seed), **kwargs)


@pytest.mark.parametrize("sampler", SAMPLERS)
def test_samplers_are_deterministic_for_a_seed(setup, sampler):
    cfg, model, scheduler, audio = setup
    a = sample(scheduler, model, audio, sampler, 7)
    b = sample(scheduler, model, audio, sampler, 7)
    c = sample(scheduler, model, audio, sampler, 8)
    assert a.shape == (1, 10, cfg.pose_dim) and torch.isfinite(a).all()
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert (a - c).abs().max() > 1e-3


def test_samplers_share_betas_and_differ(setup):
    _, model, scheduler, audio = setup
    results = [sample(scheduler, model, audio, s, 3) for s in SAMPLERS]
    for name in SAMPLERS:
        torch.testing.assert_close(scheduler.sampler(name).betas, scheduler.schedule.betas)
    assert (results[0] - results[1]).abs().max() > 1e-4
    with pytest.raises(ValueError, match="unknown sampler"):
        scheduler.sampler("euler")


def test_guidance_changes_the_result_and_one_means_none(setup):
    _, model, scheduler, audio = setup
    plain = sample(scheduler, model, audio, "ddim", 1)
    torch.testing.assert_close(sample(scheduler, model, audio, "ddim", 1, guidance_scale=1.0), plain)
    guided = sample(scheduler, model, audio, "ddim", 1, guidance_scale=3.0)
    assert guided.shape == plain.shape and (guided - plain).abs().max() > 1e-3


def test_style_scale_moves_from_the_own_style_toward_the_reference(setup):
    cfg, model, scheduler, audio = setup
    reference = torch.randn(1, 40, cfg.frontend.dim, generator=torch.Generator().manual_seed(5)) * 3
    own, styled = model.condition(audio, 10), model.condition(audio, 10, reference)

    def run(cond, **kwargs):
        return denoise(model, scheduler, cond, sampler="ddim", steps=4, generator=torch.Generator().manual_seed(1), **kwargs)

    plain_ref, plain_own = run(styled), run(own)
    torch.testing.assert_close(run(styled, style_base=own, style_scale=1.0), plain_ref)  # 1: as trained
    torch.testing.assert_close(run(styled, style_base=own, style_scale=0.0), plain_own, rtol=0, atol=1e-5)  # 0: ignored
    stronger = run(styled, style_base=own, style_scale=2.0)
    # twice the step from the own style to the reference's: further from the own-style result than 1 is
    assert (stronger - plain_own).norm() > 1.2 * (plain_ref - plain_own).norm()
    torch.testing.assert_close(run(own, style_base=own, style_scale=3.0), plain_own)  # no reference: no effect
    both = run(styled, style_base=own, style_scale=2.0, guidance_scale=2.0)
    assert torch.isfinite(both).all() and (both - stronger).abs().max() > 1e-4  # composes with audio guidance


def test_progress_and_cancel(setup):
    _, model, scheduler, audio = setup
    events = []
    sample(scheduler, model, audio, "dpmsolver++", 0, steps=5, callback=lambda *e: events.append(e))
    assert events == [(i, 5) for i in range(1, 6)]
    calls = []

    def cancel():
        calls.append(1)
        return len(calls) > 2

    events.clear()
    with pytest.raises(Cancelled):
        sample(scheduler, model, audio, "ddpm", 0, steps=5, callback=lambda *e: events.append(e), cancel=cancel)
    assert len(events) == 2




def test_defaults_come_from_the_scheduler_config(setup):
    cfg, model, _, audio = setup
    scheduler = GestureScheduler(SchedulerConfig(sampler="ddpm", steps=3, guidance_scale=2.0))
    events = []
    defaults = sample(scheduler, model, audio, None, 5, steps=None, callback=lambda *e: events.append(e))
    explicit = sample(scheduler, model, audio, "ddpm", 5, steps=3, guidance_scale=2.0)
    torch.testing.assert_close(defaults, explicit, rtol=0, atol=0)
    assert events[-1] == (3, 3)
    with pytest.raises(ValueError, match="steps must be >= 1"):
        sample(scheduler, model, audio, None, 5, steps=0)
