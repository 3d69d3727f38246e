"""The diffusion training loss (backend/training/loss.py): targets, condition dropout, learning."""

from __future__ import annotations

import pytest
import torch

from backend.model.config import SchedulerConfig, preset
from backend.model.gesture import GestureModel
from backend.model.schedulers import GestureScheduler
from backend.training.loss import diffusion_loss


@pytest.mark.parametrize("prediction_type", ["epsilon", "sample", "v_prediction"])
def test_training_loss_targets(prediction_type):
    cfg = preset("tiny").replace(pose_dim=12)
    audio = torch.randn(1, 30, cfg.frontend.dim, generator=torch.Generator().manual_seed(2))
    scheduler = GestureScheduler(SchedulerConfig(prediction_type=prediction_type))
    x0 = torch.randn(2, 10, cfg.pose_dim)
    audio2 = audio.expand(2, -1, -1)
    seen = {}

    class Probe(torch.nn.Module):
        """Records its inputs and predicts zeros, so the loss is the target's mean square."""

        def forward(self, x_t, timesteps, audio, style_audio=None, drop_audio=None):
            seen.update(x_t=x_t, t=timesteps, drop=drop_audio)
            return torch.zeros_like(x_t)

    loss = diffusion_loss(Probe(), scheduler, x0, audio2, cond_drop_prob=0.0, generator=torch.Generator().manual_seed(4))
    gen = torch.Generator().manual_seed(4)
    t = torch.randint(0, 1000, (2,), generator=gen)
    noise = torch.randn(x0.shape, generator=gen)
    abar = scheduler.schedule.alphas_cumprod[t].reshape(2, 1, 1)
    torch.testing.assert_close(seen["t"], t)
    torch.testing.assert_close(seen["x_t"], abar.sqrt() * x0 + (1 - abar).sqrt() * noise)
    assert not seen["drop"].any()
    target = {"epsilon": noise, "sample": x0, "v_prediction": abar.sqrt() * noise - (1 - abar).sqrt() * x0}[prediction_type]
    torch.testing.assert_close(loss, target.square().mean())


def test_condition_dropout_rate():
    cfg = preset("tiny").replace(pose_dim=4)
    scheduler = GestureScheduler(SchedulerConfig())
    drops = []

    class Probe(torch.nn.Module):
        def forward(self, x_t, timesteps, audio, style_audio=None, drop_audio=None):
            drops.append(drop_audio)
            return torch.zeros_like(x_t)

    gen = torch.Generator().manual_seed(0)
    diffusion_loss(Probe(), scheduler, torch.zeros(4000, 1, 4), torch.zeros(4000, 2, cfg.frontend.dim), cond_drop_prob=0.3,
                   generator=gen)
    assert abs(drops[0].float().mean().item() - 0.3) < 0.02


def test_tiny_model_overfits_a_fixed_batch():
    """The whole training path learns: fixed batch, noise and timesteps; loss falls by > 90 %."""
    cfg = preset("tiny").replace(pose_dim=454)
    torch.manual_seed(0)
    model = GestureModel(cfg)
    scheduler = GestureScheduler(SchedulerConfig())
    x0 = torch.randn(2, 16, cfg.pose_dim, generator=torch.Generator().manual_seed(1))
    audio = torch.randn(2, 40, cfg.frontend.dim, generator=torch.Generator().manual_seed(2))
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3)
    losses = []
    for _ in range(60):
        loss = diffusion_loss(model, scheduler, x0, audio, generator=torch.Generator().manual_seed(3))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.1 * losses[0], losses[::10]
