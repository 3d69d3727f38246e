"""Audio frontends: the weight-free log-mel and a real (tiny, random) WavLM loaded from a folder."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from backend.model.config import FrontendConfig
from backend.model.frontends import MelFrontend, WavLMFrontend, build_frontend
from model_samples import save_tiny_wavlm


def tone(freq: float, seconds: float = 1.0) -> torch.Tensor:
    t = torch.arange(int(16000 * seconds)) / 16000
    return 0.5 * torch.sin(2 * torch.pi * freq * t)


def test_mel_shape_rate_and_frozen():
    fe = build_frontend(FrontendConfig(kind="mel", n_mels=40))
    assert isinstance(fe, MelFrontend) and fe.dim == 40 and fe.frame_rate == 50
    out = fe(torch.randn(3, 16000))
    assert out.shape == (3, 51, 40) and torch.isfinite(out).all()
    assert list(fe.parameters()) == [] and not out.requires_grad
    assert fe(torch.randn(1, 50)).shape == (1, 1, 40)  # shorter than a window still works
    torch.testing.assert_close(fe(torch.zeros(1, 800)), torch.full((1, 3, 40), -1.0))  # silence floor


def test_mel_frames_do_not_depend_on_the_rest_of_the_clip():
    fe = MelFrontend(n_mels=40)
    wave = torch.randn(1, 32000) * torch.linspace(0.01, 1.0, 32000)
    whole, first_half = fe(wave), fe(wave[:, :16000])
    torch.testing.assert_close(whole[:, 5:45], first_half[:, 5:45])


def test_mel_follows_pitch():
    fe = MelFrontend(n_mels=40)
    low, high = fe(tone(200)[None])[0].mean(0), fe(tone(3000)[None])[0].mean(0)
    assert low.argmax() < high.argmax()
    assert low[: int(low.argmax()) + 1].sum() > high[: int(low.argmax()) + 1].sum()


@pytest.fixture(scope="module")
def wavlm_dir(tmp_path_factory):
    return save_tiny_wavlm(tmp_path_factory.mktemp("wavlm"))


def test_wavlm_fixed_layer_matches_the_model(wavlm_dir):
    fe = build_frontend(FrontendConfig(kind="wavlm", wavlm_path=str(wavlm_dir), wavlm_layer=1, wavlm_dim=64))
    assert isinstance(fe, WavLMFrontend) and fe.dim == 64 and fe.frame_rate == 50
    wave = torch.randn(2, 8000)
    out = fe(wave)
    normed = (wave - wave.mean(-1, keepdim=True)) / torch.sqrt(wave.var(-1, unbiased=False, keepdim=True) + 1e-7)
    with torch.no_grad():
        expected = fe.wavlm(normed, output_hidden_states=True).hidden_states[1]
    assert out.shape == (2, 24, 64)
    torch.testing.assert_close(out, expected)
    assert all(not p.requires_grad for p in fe.parameters())
    fe.train()
    assert not fe.wavlm.training  # frozen: dropout stays off


def test_wavlm_weighted_layers_train_only_the_weights(wavlm_dir):
    fe = build_frontend(
        FrontendConfig(kind="wavlm", wavlm_path=wavlm_dir.name, wavlm_layer="weighted", wavlm_dim=64),
        base_dir=wavlm_dir.parent,  # relative path resolved against the checkpoint folder
    )
    out = fe(torch.randn(1, 4000))
    out.sum().backward()
    trainable = [n for n, p in fe.named_parameters() if p.requires_grad]
    assert trainable == ["layer_weights"] and fe.layer_weights.grad.shape == (3,)  # CNN output + 2 layers
    assert fe.layer_weights.grad.abs().sum() > 0


def test_wavlm_errors(wavlm_dir, tmp_path):
    with pytest.raises(ValueError, match="layer 5 does not exist"):
        build_frontend(FrontendConfig(kind="wavlm", wavlm_path=str(wavlm_dir), wavlm_layer=5, wavlm_dim=64))
    with pytest.raises(ValueError, match="wavlm_dim=1024"):
        build_frontend(FrontendConfig(kind="wavlm", wavlm_path=str(wavlm_dir), wavlm_layer=1))
    with pytest.raises(OSError):
        build_frontend(FrontendConfig(kind="wavlm", wavlm_path=str(tmp_path / "absent"), wavlm_layer=1, wavlm_dim=64))


@pytest.mark.parametrize("n_mels", [32, 80])
def test_mel_filter_bank_matches_transformers(n_mels):
    from transformers.audio_utils import mel_filter_bank

    from backend.model.frontends import slaney_mel_filter_bank

    ref = mel_filter_bank(num_frequency_bins=257, num_mel_filters=n_mels, min_frequency=0.0, max_frequency=8000.0,
                          sampling_rate=16000, norm="slaney", mel_scale="slaney")
    ours = slaney_mel_filter_bank(257, n_mels, 16000)
    assert ours.shape == (257, n_mels)
    np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=1e-15)
