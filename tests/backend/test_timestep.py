"""backend.nn.timestep against diffusers' Timesteps / TimestepEmbedding (the layers it replaces)."""

from __future__ import annotations

import pytest
import torch

from backend.nn.timestep import TimestepEmbedding, Timesteps

embeddings = pytest.importorskip("diffusers.models.embeddings")


@pytest.mark.parametrize("channels", [256, 7])
@pytest.mark.parametrize("flip", [True, False])
def test_timestep_features_match_diffusers(channels, flip):
    t = torch.tensor([0, 1, 17, 500, 999])
    ours = Timesteps(channels, flip_sin_to_cos=flip, downscale_freq_shift=0)(t)
    ref = embeddings.Timesteps(channels, flip_sin_to_cos=flip, downscale_freq_shift=0)(t)
    assert ours.shape == (5, channels)
    torch.testing.assert_close(ours, ref, rtol=0, atol=0)


def test_embedding_has_diffusers_keys_and_output():
    torch.manual_seed(0)
    ref = embeddings.TimestepEmbedding(256, 64)
    ours = TimestepEmbedding(256, 64)
    assert set(ours.state_dict()) == set(ref.state_dict())
    ours.load_state_dict(ref.state_dict())
    x = torch.randn(3, 256)
    torch.testing.assert_close(ours(x), ref(x), rtol=0, atol=0)
