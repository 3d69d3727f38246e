"""The Mamba-2 layer: mamba-ssm's parameter layout, exact against a float64 recurrence and transformers."""

import copy
import importlib.util
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F

from backend.nn import mamba2 as mamba2_module
from backend.nn.mamba2 import Mamba2, Mamba2State

TINY = dict(d_model=16, d_state=8, headdim=8, expand=2)  # 4 heads


def make_layer(seed=0, **kwargs):
    """A layer whose dt and A spread widely, so decays and chunk boundaries matter."""
    torch.manual_seed(seed)
    layer = Mamba2(**{**TINY, **kwargs})
    with torch.no_grad():
        layer.dt_bias.add_(torch.randn_like(layer.dt_bias))
        layer.D.normal_()
        layer.norm.weight.uniform_(0.5, 1.5)
    return layer


def reference(layer, x, state=None):
    """Mamba-2 step by step in float64: conv window, h_t = exp(dt A) h + dt x B^T, y = h C + D x."""
    p = {name: t.double() for name, t in layer.named_parameters()}
    x = x.double()
    batch, length, _ = x.shape
    H, P, N, G = layer.nheads, layer.headdim, layer.d_state, layer.ngroups
    z, xBC, dt = (x @ p["in_proj.weight"].T).split([layer.d_inner, layer.conv_dim, H], dim=-1)
    conv = x.new_zeros(batch, layer.conv_dim, layer.d_conv - 1) if state is None else state.conv.double()
    h = x.new_zeros(batch, H, P, N) if state is None else state.ssm.double()
    A = -torch.exp(p["A_log"])
    ys = []
    for t in range(length):
        window = torch.cat([conv, xBC[:, t, :, None]], dim=-1)
        conv = window[..., 1:]
        u = F.silu((window * p["conv1d.weight"][:, 0]).sum(-1) + p["conv1d.bias"])
        xs, Bt, Ct = u.split([layer.d_inner, G * N, G * N], dim=-1)
        xs = xs.reshape(batch, H, P)
        Bt = Bt.reshape(batch, G, N).repeat_interleave(H // G, dim=1)
        Ct = Ct.reshape(batch, G, N).repeat_interleave(H // G, dim=1)
        step = F.softplus(dt[:, t] + p["dt_bias"])
        h = torch.exp(step * A)[..., None, None] * h + (step[..., None] * xs)[..., None] * Bt[:, :, None, :]
        ys.append(((h * Ct[:, :, None, :]).sum(-1) + p["D"][:, None] * xs).reshape(batch, -1))
    y = torch.stack(ys, dim=1) * F.silu(z)
    y = y.unflatten(-1, (G, -1))
    y = (y / torch.sqrt(y.pow(2).mean(-1, keepdim=True) + 1e-5)).flatten(-2) * p["norm.weight"]
    return y @ p["out_proj.weight"].T, Mamba2State(conv, h)


def test_parameter_names_and_shapes_match_mamba_ssm():
    layer = Mamba2(256, d_state=64, headdim=32, expand=2)
    shapes = {name: tuple(t.shape) for name, t in layer.state_dict().items()}
    assert shapes == {
        "in_proj.weight": (1168, 256),
        "conv1d.weight": (640, 1, 4),
        "conv1d.bias": (640,),
        "dt_bias": (16,),
        "A_log": (16,),
        "D": (16,),
        "norm.weight": (512,),
        "out_proj.weight": (256, 512),
    }
    assert sum(p.numel() for p in layer.parameters()) == 433_840


def test_initialisation_follows_mamba_ssm():
    torch.manual_seed(3)
    layer = Mamba2(64, d_state=16, headdim=4)  # 32 heads
    dt = F.softplus(layer.dt_bias)
    assert dt.min() >= 1e-3 - 1e-7 and dt.max() <= 1e-1 + 1e-7
    assert dt.max() / dt.min() > 10  # log-uniform spread, not a constant
    A = torch.exp(layer.A_log)
    assert A.min() >= 1.0 and A.max() <= 16.0 and A.std() > 1.0
    assert torch.equal(layer.D, torch.ones(32)) and torch.equal(layer.norm.weight, torch.ones(128))
    torch.manual_seed(3)
    again = Mamba2(64, d_state=16, headdim=4)
    for (name, a), b in zip(layer.state_dict().items(), again.state_dict().values()):
        assert torch.equal(a, b), name


@pytest.mark.parametrize("length", [1, 2, 63, 64, 65, 130])
def test_matches_float64_recurrence_for_any_length(length):
    layer = make_layer()
    x = torch.randn(2, length, 16, generator=torch.Generator().manual_seed(length))
    with torch.no_grad():
        got, state = layer(x, return_final_state=True)
        want, want_state = reference(layer, x)
    assert got.shape == (2, length, 16)
    assert (got.double() - want).abs().max() <= 1e-5
    assert (state.ssm.double() - want_state.ssm).abs().max() <= 1e-5
    assert (state.conv.double() - want_state.conv).abs().max() <= 1e-5


def test_matches_recurrence_with_groups_small_chunks_segments_and_initial_state():
    layer = make_layer(seed=1, ngroups=2, chunk_size=4)  # segments of 2 chunks: 18 of 8 frames and one of 6
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(3, 150, 16, generator=gen)
    start = Mamba2State(torch.randn(3, layer.conv_dim, 3, generator=gen), torch.randn(3, 4, 8, 8, generator=gen))
    with torch.no_grad():
        got, state = layer(x, initial_state=start, return_final_state=True)
        want, want_state = reference(layer, x, start)
    assert (got.double() - want).abs().max() <= 1e-5
    assert (state.ssm.double() - want_state.ssm).abs().max() <= 1e-5


@pytest.mark.skipif(importlib.util.find_spec("mamba_ssm") is not None, reason="Mamba2Mixer would take mamba-ssm's kernels")
@pytest.mark.parametrize("ngroups", [1, 2])
def test_state_dict_round_trips_with_transformers_mamba2mixer(ngroups):
    from transformers import Mamba2Config
    from transformers.models.mamba2.modeling_mamba2 import Mamba2Mixer

    layer = make_layer(seed=2, ngroups=ngroups)
    config = Mamba2Config(
        hidden_size=16, state_size=8, head_dim=8, num_heads=4, expand=2, n_groups=ngroups,
        conv_kernel=4, chunk_size=64, num_hidden_layers=1, layer_norm_epsilon=1e-5,
    )
    mixer = Mamba2Mixer(config, layer_idx=0).eval()
    mixer.load_state_dict(layer.state_dict(), strict=True)
    back = Mamba2(**TINY, ngroups=ngroups)
    back.load_state_dict(mixer.state_dict(), strict=True)
    x = torch.randn(2, 100, 16, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        ours, theirs, round_trip = layer(x), mixer(x), back(x)
    assert (ours - theirs).abs().max() <= 1e-5
    assert torch.equal(ours, round_trip)


@pytest.mark.parametrize("cuts", [(37,), (1, 2, 64), (64, 65)])
def test_state_carried_across_a_split_equals_one_pass(cuts):
    layer = make_layer(seed=4, chunk_size=16)
    x = torch.randn(2, 130, 16, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        whole, whole_state = layer(x, return_final_state=True)
        pieces, state = [], None
        for piece in torch.tensor_split(x, cuts, dim=1):
            y, state = layer(piece, initial_state=state, return_final_state=True)
            pieces.append(y)
    assert (torch.cat(pieces, dim=1) - whole).abs().max() <= 1e-5
    assert (state.ssm - whole_state.ssm).abs().max() <= 1e-5
    # the conv state is raw in-projection output: a product over a different number of rows may
    # round differently in its last bit (oneDNN picks its blocking by shape), so not torch.equal
    assert (state.conv - whole_state.conv).abs().max() <= 1e-6


def test_gradients_reach_every_parameter_and_match_the_recurrence():
    layer = make_layer(seed=5, ngroups=2, chunk_size=2).double()  # segments of 2 chunks: 10 of 4 frames and one of 1
    gen = torch.Generator().manual_seed(5)
    x = torch.randn(2, 41, 16, generator=gen, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(2, 41, 16, generator=gen, dtype=torch.float64)
    ref_layer = copy.deepcopy(layer)
    ref_x = x.detach().clone().requires_grad_(True)
    (layer(x) * weight).sum().backward()
    (reference(ref_layer, ref_x)[0] * weight).sum().backward()
    assert (x.grad - ref_x.grad).abs().max() <= 1e-9
    for (name, p), q in zip(layer.named_parameters(), ref_layer.parameters()):
        assert p.grad is not None and p.grad.abs().max() > 0, name
        assert torch.allclose(p.grad, q.grad, rtol=1e-8, atol=1e-10), name


def test_gradcheck_through_the_chunked_scan():
    layer = Mamba2(4, d_state=2, headdim=4, expand=2, chunk_size=4).double()
    names = [name for name, _ in layer.named_parameters()]
    x = torch.randn(1, 7, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(6), requires_grad=True)

    def run(x, *params):
        return torch.func.functional_call(layer, dict(zip(names, params)), (x,))

    params = [p.detach().clone().requires_grad_(True) for p in layer.parameters()]
    assert torch.autograd.gradcheck(run, (x, *params), fast_mode=True)


def test_rejects_bad_shapes_and_sizes():
    layer = Mamba2(**TINY)
    with pytest.raises(ValueError, match="expected input"):
        layer(torch.randn(2, 5, 15))
    with pytest.raises(ValueError, match="expected input"):
        layer(torch.randn(2, 0, 16))
    with pytest.raises(ValueError, match="headdim"):
        Mamba2(16, headdim=5)
    with pytest.raises(ValueError, match="ngroups"):
        Mamba2(16, headdim=8, ngroups=3)


def test_kernel_is_only_used_for_cuda_and_never_imported_eagerly():
    layer = Mamba2(**TINY, use_kernel=True)
    with pytest.raises(RuntimeError, match="use_kernel=True"):
        layer(torch.randn(1, 5, 16))
    proc = subprocess.run(
        [sys.executable, "-c", "import sys, backend.nn.mamba2; print('mamba_ssm' in sys.modules)"],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 0 and proc.stdout.strip() == "False", proc.stderr


def test_kernel_path_passes_mamba_ssm_arguments_and_returns_the_same_state(monkeypatch):
    """The fused call is faked by the PyTorch path; what it receives is checked against the kernel's API."""
    layer = make_layer(seed=7)
    x = torch.randn(2, 70, 16, generator=torch.Generator().manual_seed(7))
    with torch.no_grad():
        want, want_state = layer(x, return_final_state=True)
    seen = {}

    def fake_kernel(zxbcdt, conv1d_weight, conv1d_bias, dt_bias, A, D, chunk_size, **kwargs):
        seen.update(kwargs, conv1d_weight=conv1d_weight, A=A, chunk_size=chunk_size)
        return want, want_state.ssm

    monkeypatch.setattr(mamba2_module, "fused_kernel", lambda: fake_kernel)
    with torch.no_grad():
        out, state = layer._forward_kernel(layer.in_proj(x), return_final_state=True)
    assert seen["conv1d_weight"].shape == (layer.conv_dim, 4)
    assert torch.equal(seen["A"], -torch.exp(layer.A_log))
    assert seen["norm_before_gate"] is False and seen["rmsnorm_eps"] == 1e-5
    assert seen["headdim"] == 8 and seen["ngroups"] == 1 and seen["chunk_size"] == 64
    assert seen["rmsnorm_weight"] is layer.norm.weight and seen["outproj_weight"] is layer.out_proj.weight
    assert torch.equal(out, want) and torch.equal(state.conv, want_state.conv)


def test_a_broken_mamba_ssm_install_warns_and_falls_back(tmp_path, monkeypatch):
    (tmp_path / "mamba_ssm").mkdir()
    (tmp_path / "mamba_ssm" / "__init__.py").write_text("raise OSError('libcudart.so.12: cannot open shared object file')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    mamba2_module.fused_kernel.cache_clear()
    try:
        with pytest.warns(UserWarning, match="libcudart"):
            assert mamba2_module.fused_kernel() is None
    finally:
        mamba2_module.fused_kernel.cache_clear()
    assert "mamba_ssm" not in sys.modules  # a failed import leaves nothing behind
