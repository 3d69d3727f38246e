"""Fuzzy feature extractor, AdaLN blocks and GestureModel: shapes, init, mixers, conditioning."""

from __future__ import annotations

import pytest
import torch

from backend.model.config import preset
from backend.model.denoiser import AdaLNBlock, BidirectionalMamba2, SelfAttention, build_mixer
from backend.model.fuzzy import FuzzyFeatureExtractor, resample_frames
from backend.model.gesture import GestureModel
from backend.nn.mamba2 import Mamba2
from model_samples import open_gates


def tiny(**changes):
    return preset("tiny").replace(**{"pose_dim": 454, **changes})


def test_resample_frames_any_ratio():
    x = torch.arange(10.0).reshape(1, 10, 1)
    torch.testing.assert_close(resample_frames(x, 5)[0, :, 0], torch.tensor([0.5, 2.5, 4.5, 6.5, 8.5]))
    assert resample_frames(x, 10) is x
    up = resample_frames(x, 25)
    assert up.shape == (1, 25, 1) and torch.all(up[0, 1:, 0] >= up[0, :-1, 0])
    const = torch.full((2, 50, 3), 7.0)
    for frames in (1, 20, 30, 37, 60):
        torch.testing.assert_close(resample_frames(const, frames), torch.full((2, frames, 3), 7.0))


@pytest.mark.parametrize("frames_audio, frames", [(50, 20), (50, 30), (13, 5), (7, 60), (100, 1)])
def test_fuzzy_maps_any_audio_length_to_any_frame_count(frames_audio, frames):
    cfg = tiny()
    fuzzy = FuzzyFeatureExtractor(cfg.frontend.dim, cfg).eval()
    out = fuzzy(torch.randn(2, frames_audio, cfg.frontend.dim), frames)
    assert out.shape == (2, frames, cfg.hidden) and torch.isfinite(out).all()


def test_style_branch_uses_the_reference_clip():
    cfg = tiny()
    fuzzy = FuzzyFeatureExtractor(cfg.frontend.dim, cfg).eval()
    audio = torch.randn(1, 40, cfg.frontend.dim)
    own = fuzzy(audio, 16)
    other = fuzzy(audio, 16, style_audio=torch.randn(1, 90, cfg.frontend.dim))
    shift = other - own
    assert shift.abs().max() > 1e-4
    torch.testing.assert_close(shift, shift[:, :1].expand_as(shift))  # one global vector per clip
    no_style = FuzzyFeatureExtractor(cfg.frontend.dim, tiny(style=False))
    assert no_style.style is None
    assert sum(p.numel() for p in no_style.parameters()) < sum(p.numel() for p in fuzzy.parameters())


@pytest.mark.parametrize("mixer, bidirectional", [("mamba2", True), ("mamba2", False), ("attention", False)])
def test_adaln_zero_blocks_are_identity_at_init(mixer, bidirectional):
    cfg = tiny(mixer=mixer, bidirectional=bidirectional)
    block = AdaLNBlock(cfg)
    x, c = torch.randn(2, 9, cfg.hidden), torch.randn(2, 9, cfg.hidden)
    torch.testing.assert_close(block(x, c), x, rtol=0, atol=0)
    model = GestureModel(cfg)
    out = model(torch.randn(2, 9, cfg.pose_dim), torch.tensor([5, 900]), torch.randn(2, 23, cfg.frontend.dim))
    assert out.shape == (2, 9, cfg.pose_dim) and not out.any()  # zero-initialised output layer


def test_mixer_kinds():
    assert isinstance(build_mixer(tiny(mixer="attention")), SelfAttention)
    assert isinstance(build_mixer(tiny(bidirectional=True)), BidirectionalMamba2)
    assert type(build_mixer(tiny(bidirectional=False))) is Mamba2


def test_bidirectional_scan_sees_the_future():
    x = torch.randn(1, 12, 64)
    later = x.clone()
    later[:, -1] += 1.0
    torch.manual_seed(0)
    causal = build_mixer(tiny(bidirectional=False))
    both = build_mixer(tiny(bidirectional=True))
    attention = build_mixer(tiny(mixer="attention"))
    with torch.no_grad():
        torch.testing.assert_close(causal(x)[:, :-1], causal(later)[:, :-1])
        assert (both(x)[:, 0] - both(later)[:, 0]).abs().max() > 1e-6
        assert (attention(x)[:, 0] - attention(later)[:, 0]).abs().max() > 1e-6


def test_attention_is_position_aware():
    attn = SelfAttention(64, 16)
    x = torch.randn(1, 6, 64)
    with torch.no_grad():
        swapped = attn(x[:, [1, 0, 2, 3, 4, 5]])[:, [1, 0, 2, 3, 4, 5]]
        assert (attn(x) - swapped).abs().max() > 1e-5  # rotary positions break permutation symmetry


@pytest.mark.parametrize("mixer", ["mamba2", "attention"])
@pytest.mark.parametrize("frames, frames_audio", [(1, 3), (20, 50), (47, 100), (70, 118)])
def test_gesture_model_shapes_and_gradients(mixer, frames, frames_audio):
    cfg = tiny(mixer=mixer)
    model = GestureModel(cfg)
    open_gates(model)
    x = torch.randn(2, frames, cfg.pose_dim)
    out = model(x, torch.tensor([0, 999]), torch.randn(2, frames_audio, cfg.frontend.dim))
    assert out.shape == x.shape and torch.isfinite(out).all() and out.abs().max() > 0
    out.square().mean().backward()
    assert model.fuzzy.local_conv.weight.grad.abs().sum() > 0
    assert model.denoiser.pose_in.weight.grad.abs().sum() > 0


def test_mamba_and_attention_models_share_the_interface():
    mamba, attn = GestureModel(tiny()), GestureModel(tiny(mixer="attention"))
    shared = {n for n, _ in mamba.named_parameters()} & {n for n, _ in attn.named_parameters()}
    assert "denoiser.pose_in.weight" in shared and "fuzzy.local_conv.weight" in shared
    assert any("mixer.qkv" in n for n, _ in attn.named_parameters())
    assert any("mixer.forward_scan.A_log" in n for n, _ in mamba.named_parameters())


def test_dropped_audio_uses_the_null_latent():
    cfg = tiny()
    model = GestureModel(cfg).eval()
    audio = torch.randn(2, 30, cfg.frontend.dim)
    latent = model.condition(audio, 12, drop_audio=torch.tensor([True, False]))
    torch.testing.assert_close(latent[0], model.null_audio.expand(12, -1))
    torch.testing.assert_close(latent[1], model.condition(audio, 12)[1])
    open_gates(model)
    x, t = torch.randn(1, 12, cfg.pose_dim), torch.tensor([10])
    drop = torch.tensor([True])
    a = model(x, t, torch.randn(1, 30, cfg.frontend.dim), drop_audio=drop)
    b = model(x, t, torch.randn(1, 30, cfg.frontend.dim), drop_audio=drop)
    torch.testing.assert_close(a, b)


def test_wrong_input_widths_are_refused():
    cfg = tiny()
    model = GestureModel(cfg)
    with pytest.raises(ValueError, match="audio features"):
        model(torch.randn(1, 4, cfg.pose_dim), torch.tensor([1]), torch.randn(1, 10, cfg.frontend.dim + 1))
    with pytest.raises(ValueError, match="x_t"):
        model(torch.randn(1, 4, cfg.pose_dim - 1), torch.tensor([1]), torch.randn(1, 10, cfg.frontend.dim))
