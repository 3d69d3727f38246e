"""The CPU layout of the Mamba-2 scan: factored chunks, the exact recomputation of fast-decaying heads,
evened-out chunks, several layers side by side, and the fused bidirectional mixer."""

import pytest
import torch

from backend.model import denoiser as denoiser_module
from backend.model.config import preset
from backend.model.denoiser import AdaLNBlock, BidirectionalMamba2
from backend.nn import ssd as ssd_module
from backend.nn.mamba2 import Mamba2, Mamba2Weights
from backend.nn.ssd import ssd_scan


def recurrence(x, dt, A, B, C, state=None):
    """h_t = exp(dt A) h + dt x B^T, y_t = h C, step by step in float64 (A per sequence or shared)."""
    x, dt, A, B, C = (t.double() for t in (x, dt, A, B, C))
    batch, length, H, P = x.shape
    G = B.shape[2]
    A = A.expand(batch, H) if A.dim() == 1 else A
    h = x.new_zeros(batch, H, P, B.shape[3]) if state is None else state.double()
    ys = []
    for t in range(length):
        Bt = B[:, t].repeat_interleave(H // G, dim=1)
        Ct = C[:, t].repeat_interleave(H // G, dim=1)
        h = torch.exp(dt[:, t] * A)[..., None, None] * h + (dt[:, t, :, None] * x[:, t])[..., None] * Bt[:, :, None, :]
        ys.append((h * Ct[:, :, None, :]).sum(-1))
    return torch.stack(ys, dim=1), h


def inputs(batch=2, length=150, H=4, P=8, G=2, N=8, seed=0, fast=()):
    """Random scan inputs; heads in ``fast`` decay by exp(-4..-8) per step (ranges far past the factored limit)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, length, H, P, generator=g)
    dt = torch.rand(batch, length, H, generator=g) * 0.2 + 0.01
    A = -(torch.rand(batch, H, generator=g) * 3 + 0.5)
    for h in fast:
        A[:, h] = -40.0
    B, C = torch.randn(batch, length, G, N, generator=g), torch.randn(batch, length, G, N, generator=g)
    return x, dt, A, B, C


@pytest.mark.parametrize("fast", [(), (1,), (0, 1, 2, 3)])
def test_factored_scan_and_exact_recomputation_match_the_recurrence(fast):
    x, dt, A, B, C = inputs(fast=fast)
    start = torch.randn(2, 4, 8, 8, generator=torch.Generator().manual_seed(9))
    span = (-(dt * A[:, None]).sum(1)).max()
    assert (span > ssd_module.FACTORED_RANGE[torch.float32]) == bool(fast)  # the exact path is exercised when asked
    y, state = ssd_scan(x, dt, A, B, C, chunk_size=64, initial_state=start)
    want_y, want_state = recurrence(x, dt, A, B, C, start)
    assert torch.isfinite(y).all()
    assert (y.double() - want_y).abs().max() <= 1e-5 * max(1.0, float(want_y.abs().max()))
    assert (state.double() - want_state).abs().max() <= 1e-5 * max(1.0, float(want_state.abs().max()))


def test_exact_recomputation_keeps_gradients_finite_and_right():
    x, dt, A, B, C = (t.double().requires_grad_(True) for t in inputs(length=40, fast=(2,)))
    ssd_module_limit = ssd_module.FACTORED_RANGE[torch.float64]
    try:
        ssd_module.FACTORED_RANGE[torch.float64] = 30.0  # chunks of head 2 exceed it, the others do not
        y, _ = ssd_scan(x, dt, A, B, C, chunk_size=16)
    finally:
        ssd_module.FACTORED_RANGE[torch.float64] = ssd_module_limit
    weight = torch.randn_like(y)
    grads = torch.autograd.grad((y * weight).sum(), (x, dt, A, B, C))
    ref = [t.detach().clone().requires_grad_(True) for t in (x, dt, A, B, C)]
    want = torch.autograd.grad((recurrence(*ref)[0] * weight).sum(), ref)
    for got, exp in zip(grads, want):
        assert torch.isfinite(got).all()
        assert torch.allclose(got, exp, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("length", [1, 50, 200, 201])
def test_any_chunk_size_gives_the_same_scan(length):
    """Chunks are evened out over the length (200 with chunk 64 runs as 4 x 50); short sequences run as
    one chunk (the quadratic form): the split never changes the result beyond float32 rounding."""
    x, dt, A, B, C = inputs(length=length, G=1, seed=length)
    want_y, want_state = recurrence(x, dt, A, B, C)
    scale = max(1.0, float(want_y.abs().max()), float(want_state.abs().max()))
    for chunk in (7, 64, 256):
        y, state = ssd_scan(x, dt, A, B, C, chunk_size=chunk)
        assert (y.double() - want_y).abs().max() <= 1e-5 * scale, chunk
        assert (state.double() - want_state).abs().max() <= 1e-5 * scale, chunk


def test_layers_side_by_side_equal_separate_layers():
    torch.manual_seed(0)
    layers = [Mamba2(16, d_state=8, headdim=8, chunk_size=8) for _ in range(2)]
    for layer in layers:
        with torch.no_grad():
            layer.dt_bias.add_(torch.randn_like(layer.dt_bias))
            layer.D.normal_()
    x = torch.randn(3, 150, 16)  # several segments of 8 chunks
    with torch.no_grad():
        together, state = layers[0].forward_directions(x, Mamba2Weights.of(layers), (False, True))
        separate = layers[0](x) + layers[1](x.flip(1)).flip(1)
        _, state0 = layers[0](x, return_final_state=True)
    assert (together - separate).abs().max() <= 1e-6 * max(1.0, float(separate.abs().max()))
    assert (state.ssm[:3] - state0.ssm).abs().max() <= 1e-6  # layer-major: the first layer's batch first


@pytest.mark.parametrize("length", [5, 200, 1100])
def test_bidirectional_mixer_is_one_batched_scan_equal_to_two_separate_ones(length):
    torch.manual_seed(1)
    mixer = BidirectionalMamba2(d_model=32, d_state=16, headdim=16, chunk_size=16)
    x = torch.randn(2, length, 32)
    with torch.no_grad():
        want = 0.5 * (mixer.forward_scan(x) + mixer.backward_scan(x.flip(1)).flip(1))
        got = mixer(x)
    assert (got - want).abs().max() <= 1e-6
    # with autograd the same numbers, and gradients reach both directions
    x.requires_grad_(True)
    out = mixer(x)
    assert (out.detach() - want).abs().max() <= 1e-6
    out.square().sum().backward()
    assert mixer.backward_scan.in_proj.weight.grad.abs().max() > 0 and x.grad is not None


def test_stacked_weights_are_rebuilt_when_a_parameter_changes():
    torch.manual_seed(2)
    mixer = BidirectionalMamba2(d_model=16, d_state=8, headdim=8).eval()
    x = torch.randn(1, 30, 16)
    with torch.inference_mode():
        before = mixer(x)
        assert mixer.weights() is mixer.weights()  # cached while nothing changes
    with torch.no_grad():
        mixer.backward_scan.out_proj.weight.mul_(2.0)  # an optimiser step or a load_state_dict
    with torch.inference_mode():
        after = mixer(x)
    with torch.no_grad():
        want = 0.5 * (mixer.forward_scan(x) + mixer.backward_scan(x.flip(1)).flip(1))
    assert (after - want).abs().max() <= 1e-6 and (after - before).abs().max() > 1e-3


def test_mlp_in_segments_without_autograd_equals_one_pass(monkeypatch):
    cfg = preset("tiny").replace(pose_dim=454)
    torch.manual_seed(3)
    block = AdaLNBlock(cfg).eval()
    with torch.no_grad():
        for p in block.adaLN_modulation.parameters():
            p.normal_(0, 0.1)  # open the gates
    x, c = torch.randn(2, 70, cfg.hidden), torch.randn(2, 70, cfg.hidden)
    whole = block(x, c)  # autograd on: one pass
    monkeypatch.setattr(denoiser_module, "MLP_SEGMENT", 16)
    with torch.no_grad():
        segmented = block(x, c)
        broadcast_c = block(x, c[:, :1])
    assert (segmented - whole.detach()).abs().max() <= 1e-5
    assert (broadcast_c - block(x, c[:, :1].expand(-1, 70, -1)).detach()).abs().max() <= 1e-5
