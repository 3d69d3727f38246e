"""GestureDiffusion: objectives, samplers (determinism, guidance, progress, cancel), learning."""

from __future__ import annotations

import pytest
import torch

from backend.errors import Cancelled
from backend.model.config import preset
from backend.model.diffusion import GestureDiffusion
from backend.model.gesture import GestureModel
from model_samples import open_gates

SAMPLERS = ["ddpm", "ddim", "dpmsolver++"]


def trained_looking(cfg) -> GestureModel:
    torch.manual_seed(0)
    return open_gates(GestureModel(cfg)).eval()


@pytest.fixture(scope="module")
def setup():
    cfg = preset("tiny").replace(pose_dim=12)
    audio = torch.randn(1, 30, cfg.frontend.dim, generator=torch.Generator().manual_seed(2))
    return cfg, trained_looking(cfg), GestureDiffusion(cfg.diffusion), audio


def sample(diffusion, model, audio, sampler, seed, **kwargs):
    kwargs.setdefault("steps", 4)
    return diffusion.sample(model, audio, 10, sampler=sampler, generator=torch.Generator().manual_seed(seed), **kwargs)


@pytest.mark.parametrize("sampler", SAMPLERS)
def test_samplers_are_deterministic_for_a_seed(setup, sampler):
    cfg, model, diffusion, audio = setup
    a = sample(diffusion, model, audio, sampler, 7)
    b = sample(diffusion, model, audio, sampler, 7)
    c = sample(diffusion, model, audio, sampler, 8)
    assert a.shape == (1, 10, cfg.pose_dim) and torch.isfinite(a).all()
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert (a - c).abs().max() > 1e-3


def test_samplers_share_betas_and_differ(setup):
    _, model, diffusion, audio = setup
    results = [sample(diffusion, model, audio, s, 3) for s in SAMPLERS]
    for name in SAMPLERS:
        torch.testing.assert_close(diffusion.scheduler(name).betas, diffusion.train_scheduler.betas)
    assert (results[0] - results[1]).abs().max() > 1e-4
    with pytest.raises(ValueError, match="unknown sampler"):
        diffusion.scheduler("euler")


def test_guidance_changes_the_result_and_one_means_none(setup):
    _, model, diffusion, audio = setup
    plain = sample(diffusion, model, audio, "ddim", 1)
    torch.testing.assert_close(sample(diffusion, model, audio, "ddim", 1, guidance_scale=1.0), plain)
    guided = sample(diffusion, model, audio, "ddim", 1, guidance_scale=3.0)
    assert guided.shape == plain.shape and (guided - plain).abs().max() > 1e-3


def test_progress_and_cancel(setup):
    _, model, diffusion, audio = setup
    events = []
    sample(diffusion, model, audio, "dpmsolver++", 0, steps=5, progress=lambda *e: events.append(e))
    assert events == [(i, 5, "denoising") for i in range(1, 6)]
    calls = []

    def cancel():
        calls.append(1)
        return len(calls) > 2

    events.clear()
    with pytest.raises(Cancelled):
        sample(diffusion, model, audio, "ddpm", 0, steps=5, progress=lambda *e: events.append(e), cancel=cancel)
    assert len(events) == 2


@pytest.mark.parametrize("prediction_type", ["epsilon", "sample", "v_prediction"])
def test_training_loss_targets(setup, prediction_type):
    cfg, _, _, audio = setup
    cfg = cfg.replace(diffusion={**cfg.diffusion.__dict__, "prediction_type": prediction_type, "cond_drop_prob": 0.0})
    diffusion = GestureDiffusion(cfg.diffusion)
    x0 = torch.randn(2, 10, cfg.pose_dim)
    audio2 = audio.expand(2, -1, -1)
    seen = {}

    class Probe(torch.nn.Module):
        """Records its inputs and predicts zeros, so the loss is the target's mean square."""

        def forward(self, x_t, timesteps, audio, style_audio=None, drop_audio=None):
            seen.update(x_t=x_t, t=timesteps, drop=drop_audio)
            return torch.zeros_like(x_t)

    loss = diffusion.training_loss(Probe(), x0, audio2, generator=torch.Generator().manual_seed(4))
    gen = torch.Generator().manual_seed(4)
    t = torch.randint(0, 1000, (2,), generator=gen)
    noise = torch.randn(x0.shape, generator=gen)
    abar = diffusion.train_scheduler.alphas_cumprod[t].reshape(2, 1, 1)
    torch.testing.assert_close(seen["t"], t)
    torch.testing.assert_close(seen["x_t"], abar.sqrt() * x0 + (1 - abar).sqrt() * noise)
    assert not seen["drop"].any()
    target = {"epsilon": noise, "sample": x0, "v_prediction": abar.sqrt() * noise - (1 - abar).sqrt() * x0}[prediction_type]
    torch.testing.assert_close(loss, target.square().mean())


def test_condition_dropout_rate():
    cfg = preset("tiny").replace(pose_dim=4)
    diffusion = GestureDiffusion(cfg.diffusion)
    drops = []

    class Probe(torch.nn.Module):
        def forward(self, x_t, timesteps, audio, style_audio=None, drop_audio=None):
            drops.append(drop_audio)
            return torch.zeros_like(x_t)

    gen = torch.Generator().manual_seed(0)
    diffusion.training_loss(Probe(), torch.zeros(4000, 1, 4), torch.zeros(4000, 2, cfg.frontend.dim), generator=gen)
    assert abs(drops[0].float().mean().item() - cfg.diffusion.cond_drop_prob) < 0.02


def test_tiny_model_overfits_a_fixed_batch():
    """The whole training path learns: fixed batch, noise and timesteps; loss falls by > 90 %."""
    cfg = preset("tiny").replace(dropout=0.0)
    torch.manual_seed(0)
    model = GestureModel(cfg)
    diffusion = GestureDiffusion(cfg.diffusion)
    x0 = torch.randn(2, 16, cfg.pose_dim, generator=torch.Generator().manual_seed(1))
    audio = torch.randn(2, 40, cfg.frontend.dim, generator=torch.Generator().manual_seed(2))
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3)
    losses = []
    for _ in range(60):
        loss = diffusion.training_loss(model, x0, audio, generator=torch.Generator().manual_seed(3))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.1 * losses[0], losses[::10]
