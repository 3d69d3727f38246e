"""The shared bidirectional Mamba-2 mixer: exact against two separate float64 recurrences, in every
path (matrix form, one pass, segments); gradients; the separate layout untouched for old configs."""

import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from backend.model.config import ModelConfig, preset
from backend.model.denoiser import BidirectionalMamba2, build_mixer
from backend.model.gesture import GestureModel
from backend.motion.features import num_features
from backend.motion.skeleton import default_skeleton
from backend.nn import shared_bidirectional as shared_module
from backend.nn.shared_bidirectional import SharedBidirectionalMamba2
from backend.nn.ssd import ssd_bidirectional_quadratic

from test_ssd_cpu_paths import inputs, recurrence

ROOT = Path(__file__).resolve().parents[2]


def make_mixer(seed=0, **kwargs):
    """Two groups, dt and D spread, so both directions, groups and the skip all matter."""
    torch.manual_seed(seed)
    mixer = SharedBidirectionalMamba2(**{"d_model": 16, "d_state": 8, "headdim": 8, "expand": 2, "ngroups": 2,
                                         "chunk_size": 8, **kwargs})
    with torch.no_grad():
        mixer.dt_bias.add_(torch.randn_like(mixer.dt_bias))
        mixer.D.normal_()
        mixer.norm.weight.uniform_(0.5, 1.5)
    return mixer


def reference(m, x):
    """In float64: one projection and centred convolution, then two separate single-direction
    recurrences (the backward one over the flipped sequence), summed with D x, gated, projected."""
    p = {name: t.double() for name, t in m.named_parameters()}
    x = x.double()
    b, L, _ = x.shape
    H, P, G, N = m.nheads, m.headdim, m.ngroups, m.d_state
    z, xBC, dt = (x @ p["in_proj.weight"].T).split([m.d_inner, m.conv_dim, 2 * H], -1)
    u = F.conv1d(F.pad(xBC.transpose(1, 2), m.pad), p["conv1d.weight"], p["conv1d.bias"], groups=m.conv_dim)
    xs, Bf, Bb, Cf, Cb = F.silu(u).transpose(1, 2).split([m.d_inner] + 4 * [G * N], -1)
    dt = F.softplus(dt + p["dt_bias"])
    A = -torch.exp(p["A_log"])
    xs = xs.reshape(b, L, H, P)
    fwd, _ = recurrence(xs, dt[..., :H], A[:H], Bf.reshape(b, L, G, N), Cf.reshape(b, L, G, N))
    bwd, _ = recurrence(xs.flip(1), dt[..., H:].flip(1), A[H:], Bb.flip(1).reshape(b, L, G, N), Cb.flip(1).reshape(b, L, G, N))
    y = (fwd + bwd.flip(1) + p["D"][:, None] * xs).reshape(b, L, -1) * F.silu(z)
    y = y.unflatten(-1, (G, -1))
    y = (y / torch.sqrt(y.pow(2).mean(-1, keepdim=True) + 1e-5)).flatten(-2) * p["norm.weight"]
    return y @ p["out_proj.weight"].T


@pytest.mark.parametrize("length", [1, 5, 40, 150])
@pytest.mark.parametrize("segmented", [False, True])
def test_batched_two_direction_scan_matches_two_separate_scans_in_float64(length, segmented, monkeypatch):
    if segmented:  # segments of 2 chunks of 8 frames, the states carried between them
        monkeypatch.setattr(shared_module, "WHOLE_MAX", 0)
    monkeypatch.setattr(shared_module, "QUADRATIC_MAX", 40)  # 1, 5, 40: matrix form; 150: chunked
    mixer = make_mixer().double()
    x = torch.randn(2, length, 16, dtype=torch.float64)
    want = reference(mixer, x)
    with torch.no_grad():
        got = mixer(x)
    assert got.dtype == torch.float64 and (got - want).abs().max() <= 1e-10


def test_float32_within_float_rounding_and_every_path_agrees(monkeypatch):
    mixer = make_mixer(seed=1)
    x = torch.randn(1, 300, 16)
    want = reference(mixer, x)
    results = []
    for whole_max, quadratic_max in ((0, 0), (1000, 0), (1000, 1000)):  # segments, one chunked pass, matrix form
        monkeypatch.setattr(shared_module, "WHOLE_MAX", whole_max)
        monkeypatch.setattr(shared_module, "QUADRATIC_MAX", quadratic_max)
        with torch.no_grad():
            results.append(mixer(x))
    for got in results:
        assert (got.double() - want).abs().max() <= 1e-5


def test_gradients_reach_every_parameter_and_match_float64():
    mixer = make_mixer(seed=2).double()
    x = torch.randn(2, 60, 16, dtype=torch.float64, requires_grad=True)
    mixer(x).square().sum().backward()
    got = {name: p.grad.clone() for name, p in mixer.named_parameters()}
    got_x = x.grad.clone()
    mixer.zero_grad()
    x.grad = None
    reference(mixer, x).square().sum().backward()
    for name, p in mixer.named_parameters():
        assert got[name].abs().max() > 0, name
        assert (got[name] - p.grad).abs().max() <= 1e-8 * max(1.0, float(p.grad.abs().max())), name
    assert (got_x - x.grad).abs().max() <= 1e-8


def test_each_frame_sees_both_directions():
    mixer = make_mixer(seed=3)
    x = torch.randn(1, 50, 16)
    with torch.no_grad():
        base = mixer(x)
        x[:, 25] += 1.0
        moved = (mixer(x) - base).abs().amax(-1)[0]
    assert moved[:24].min() > 0 and moved[27:].min() > 0  # past and future frames both react


@pytest.mark.parametrize("fast", [(), (0, 2)])
def test_matrix_form_matches_two_recurrences_with_floored_decays(fast):
    """Sequence 0 of the inputs drives the forward scan, sequence 1 the backward one, over one x."""
    x, dt, A, B, C = inputs(length=90, fast=fast)
    x = x[:1]
    forward, _ = recurrence(x, dt[:1], A[:1], B[:1], C[:1])
    backward, _ = recurrence(x.flip(1), dt[1:].flip(1), A[1:], B[1:].flip(1), C[1:].flip(1))
    want = forward + backward.flip(1)
    got = ssd_bidirectional_quadratic(x, dt[:, None], A, B[:, None], C[:, None])
    assert got.shape == x.shape
    assert (got.double() - want).abs().max() <= 1e-4 * max(1.0, float(want.abs().max()))


def test_small_preset_is_shared_and_as_large_as_the_dit_baseline():
    cfg = preset("small").replace(pose_dim=num_features(default_skeleton()))
    assert (cfg.bidirectional_layout, cfg.expand) == ("shared", 1)
    assert isinstance(build_mixer(cfg), SharedBidirectionalMamba2)
    with torch.device("meta"):
        mamba = sum(p.numel() for p in GestureModel(cfg).parameters())
        dit = sum(p.numel() for p in GestureModel(cfg.replace(mixer="attention")).parameters())
    assert abs(mamba / dit - 1) < 0.01


def test_the_separate_layout_stays_for_old_configs_and_the_demo():
    data = preset("small").to_dict()
    del data["bidirectional_layout"]  # a config written before the field existed
    assert ModelConfig.from_dict(data).bidirectional_layout == "separate"
    demo = json.loads((ROOT / "configs" / "demo.json").read_text())["model"]
    assert (demo["bidirectional_layout"], demo["expand"]) == ("separate", 2)
    cfg = preset("tiny")
    assert cfg.bidirectional_layout == "separate"
    mixer = build_mixer(cfg)
    assert isinstance(mixer, BidirectionalMamba2)
    assert {n.split(".")[0] for n, _ in mixer.named_parameters()} == {"forward_scan", "backward_scan"}
    with pytest.raises(ValueError, match="bidirectional_layout"):
        cfg.replace(bidirectional_layout="both")
