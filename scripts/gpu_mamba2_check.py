"""Parity and speed of Mamba2's fused mamba-ssm kernel against its PyTorch scan, on one CUDA GPU.

Why: the kernel path cannot run on CPU machines, so its agreement with the tested PyTorch
path (outputs, final states, gradients) and its speed-up are measured here, on a GPU with a
CUDA build of torch and mamba-ssm installed:

    python scripts/gpu_mamba2_check.py                      # defaults: d_model 256, batch 2
    python scripts/gpu_mamba2_check.py --lengths 1000 8000 32000 --dtype bfloat16

Prints one JSON object per line (kind "parity" or "speed"); exits 2 when CUDA or mamba-ssm is
missing, 1 when a parity figure exceeds --tolerance.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from backend.nn.mamba2 import Mamba2, fused_kernel  # noqa: E402


def run(layer: Mamba2, x: torch.Tensor, use_kernel: bool, grad: bool):
    """Output, final state and (if grad) gradients of x and every parameter, on one path."""
    layer.use_kernel = use_kernel
    layer.zero_grad(set_to_none=True)
    x = x.detach().requires_grad_(grad)
    with torch.set_grad_enabled(grad):
        y, state = layer(x, return_final_state=True)
        if grad:
            (y.float() * torch.linspace(-1, 1, y.shape[-1], device=y.device)).sum().backward()
    grads = {"x": x.grad} if grad else {}
    grads.update({name: p.grad for name, p in layer.named_parameters()} if grad else {})
    return y.detach(), state, grads


def parity(layer: Mamba2, x: torch.Tensor) -> dict:
    """Max abs differences kernel vs torch; gradient differences relative to the gradient's max."""
    y_t, s_t, g_t = run(layer, x, use_kernel=False, grad=True)
    y_k, s_k, g_k = run(layer, x, use_kernel=True, grad=True)
    diff = lambda a, b: (a.float() - b.float()).abs().max().item()  # noqa: E731
    return {
        "output_max_abs": diff(y_t, y_k),
        "output_max": y_t.abs().max().item(),
        "ssm_state_max_abs": diff(s_t.ssm, s_k.ssm),
        "conv_state_max_abs": diff(s_t.conv, s_k.conv),
        "grad_max_rel": {n: diff(g_t[n], g_k[n]) / max(g_t[n].abs().max().item(), 1e-12) for n in g_t},
    }


def timed(fn, repeats: int) -> float:
    """Median milliseconds of fn() over repeats, after two warm-up calls."""
    for _ in range(2):
        fn()
    times = []
    for _ in range(repeats):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end))
    return sorted(times)[len(times) // 2]


def speed(layer: Mamba2, x: torch.Tensor, use_kernel: bool, repeats: int) -> dict:
    layer.use_kernel = use_kernel

    def forward():
        with torch.no_grad():
            layer(x)

    def train_step():
        layer(x).float().sum().backward()

    torch.cuda.reset_peak_memory_stats()
    result = {"forward_ms": timed(forward, repeats), "forward_backward_ms": timed(train_step, repeats)}
    result["peak_memory_mib"] = torch.cuda.max_memory_allocated() / 2**20
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--d-model", type=int, default=256)
    parser.add_argument("--d-state", type=int, default=64)
    parser.add_argument("--headdim", type=int, default=32)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--parity-lengths", type=int, nargs="+", default=[1, 63, 65, 1000, 4096])
    parser.add_argument("--lengths", type=int, nargs="+", default=[1000, 8000, 32000], help="for speed")
    parser.add_argument("--dtype", choices=["float32", "bfloat16"], default="float32")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--tolerance", type=float, default=1e-3, help="max output/state abs diff (float32)")
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        print("gpu_mamba2_check: no CUDA device visible to torch", file=sys.stderr)
        return 2
    if fused_kernel() is None:
        print("gpu_mamba2_check: mamba_ssm does not import here (install mamba-ssm and causal-conv1d)", file=sys.stderr)
        return 2
    dtype = getattr(torch, args.dtype)
    torch.manual_seed(0)
    layer = Mamba2(args.d_model, d_state=args.d_state, headdim=args.headdim, device="cuda", dtype=dtype)
    failed = False
    print(json.dumps({"kind": "device", "name": torch.cuda.get_device_name(), "torch": torch.__version__,
                      "dtype": args.dtype, "d_model": args.d_model, "batch": args.batch}), flush=True)
    for length in args.parity_lengths:
        x = torch.randn(args.batch, length, args.d_model, device="cuda", dtype=dtype)
        figures = parity(layer, x)
        worst = max(figures["output_max_abs"], figures["ssm_state_max_abs"], figures["conv_state_max_abs"])
        failed |= args.dtype == "float32" and worst > args.tolerance
        print(json.dumps({"kind": "parity", "length": length, **figures}), flush=True)
    for length in args.lengths:
        x = torch.randn(args.batch, length, args.d_model, device="cuda", dtype=dtype)
        torch_path = speed(layer, x, use_kernel=False, repeats=args.repeats)
        kernel_path = speed(layer, x, use_kernel=True, repeats=args.repeats)
        print(json.dumps({"kind": "speed", "length": length, "torch": torch_path, "kernel": kernel_path,
                          "forward_speedup": torch_path["forward_ms"] / kernel_path["forward_ms"]}), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
