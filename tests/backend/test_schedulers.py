"""Our samplers against diffusers' schedulers (the reference), step by step, for every setting we use."""

from __future__ import annotations

import pytest
import torch

from backend.model.config import BETA_SCHEDULES, PREDICTION_TYPES, SchedulerConfig
from backend.model.schedulers import SCHEDULER_FILE, GestureScheduler, NoiseSchedule, draw_noise, make_sampler

diffusers = pytest.importorskip("diffusers")


def reference(name: str, cfg: SchedulerConfig):
    """The diffusers scheduler our samplers replace (same arguments)."""
    kwargs = dict(num_train_timesteps=cfg.num_train_timesteps, beta_schedule=cfg.beta_schedule, beta_start=cfg.beta_start,
                  beta_end=cfg.beta_end, prediction_type=cfg.prediction_type)
    if name == "ddpm":
        return diffusers.DDPMScheduler(**kwargs, clip_sample=False)
    if name == "ddim":
        return diffusers.DDIMScheduler(**kwargs, clip_sample=False, set_alpha_to_one=False)
    return diffusers.DPMSolverMultistepScheduler(**kwargs, algorithm_type="dpmsolver++", solver_order=2)


def fake_model(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """A deterministic stand-in for the denoiser whose output depends on x and t."""
    return torch.tanh(0.7 * x + 0.001 * t.float()) - 0.1 * x


@pytest.mark.parametrize("prediction_type", PREDICTION_TYPES)
@pytest.mark.parametrize("beta_schedule", BETA_SCHEDULES)
@pytest.mark.parametrize("name,steps", [("ddpm", 1000), ("ddpm", 7), ("ddim", 10), ("ddim", 50), ("dpmsolver++", 5),
                                        ("dpmsolver++", 25), ("dpmsolver++", 1)])
def test_sampler_matches_diffusers(name, steps, beta_schedule, prediction_type):
    if name == "ddpm" and steps == 1000 and (beta_schedule, prediction_type) != ("linear", "epsilon"):
        pytest.skip("one 1000-step run is enough")
    cfg = SchedulerConfig(beta_schedule=beta_schedule, prediction_type=prediction_type)
    ours, ref = make_sampler(name, NoiseSchedule(cfg)), reference(name, cfg)
    ours.set_timesteps(steps)
    ref.set_timesteps(steps)
    torch.testing.assert_close(ours.timesteps, ref.timesteps, rtol=0, atol=0)
    torch.testing.assert_close(ours.betas, ref.betas, rtol=0, atol=0)
    x_ours = x_ref = torch.randn(2, 9, 5, generator=torch.Generator().manual_seed(1))
    g_ours, g_ref = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    for t in ref.timesteps:
        x_ours = ours.step(fake_model(x_ours, t), t, x_ours, generator=g_ours)
        x_ref = ref.step(fake_model(x_ref, t), t, x_ref, generator=g_ref).prev_sample
        torch.testing.assert_close(x_ours, x_ref, rtol=1e-5, atol=1e-5)
    assert x_ours.shape == (2, 9, 5) and torch.isfinite(x_ours).all()


@pytest.mark.parametrize("prediction_type", PREDICTION_TYPES)
def test_noising_and_velocity_match_diffusers(prediction_type):
    cfg = SchedulerConfig(prediction_type=prediction_type)
    ours, ref = NoiseSchedule(cfg), reference("ddpm", cfg)
    x0, noise = torch.randn(3, 4, 2), torch.randn(3, 4, 2)
    t = torch.tensor([0, 500, 999])
    torch.testing.assert_close(ours.add_noise(x0, noise, t), ref.add_noise(x0, noise, t), rtol=0, atol=0)
    torch.testing.assert_close(ours.get_velocity(x0, noise, t), ref.get_velocity(x0, noise, t), rtol=0, atol=0)


def test_per_row_generators_make_rows_independent_of_their_batch():
    alone = draw_noise((1, 6, 3), [torch.Generator().manual_seed(9)], "cpu", torch.float32)
    batch = draw_noise((2, 6, 3), [torch.Generator().manual_seed(4), torch.Generator().manual_seed(9)], "cpu", torch.float32)
    torch.testing.assert_close(batch[1:], alone, rtol=0, atol=0)
    assert not torch.equal(batch[0], batch[1])
    with pytest.raises(ValueError, match="2 generators for a batch of 3"):
        draw_noise((3, 1), [torch.Generator()] * 2, "cpu", torch.float32)


def test_bad_step_counts_and_names_are_refused():
    schedule = NoiseSchedule(SchedulerConfig())
    with pytest.raises(ValueError, match="between 1 and 1000"):
        make_sampler("ddim", schedule).set_timesteps(1001)
    with pytest.raises(ValueError, match="unknown sampler 'euler'"):
        make_sampler("euler", schedule)


def test_gesture_scheduler_saves_its_config_and_builds_samplers_with_its_defaults(tmp_path):
    config = SchedulerConfig(prediction_type="sample", sampler="dpmsolver++", steps=20, guidance_scale=1.5)
    GestureScheduler(config).save_pretrained(tmp_path)
    assert (tmp_path / SCHEDULER_FILE).is_file()
    loaded = GestureScheduler.from_pretrained(tmp_path)
    assert loaded.config == config
    sampler = loaded.sampler()
    assert type(sampler).__name__ == "DPMSolverSampler" and len(sampler.timesteps) == 20
    assert sampler.prediction_type == "sample"
    assert len(loaded.sampler("ddim", 7).timesteps) == 7
