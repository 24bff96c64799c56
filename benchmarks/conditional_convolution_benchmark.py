"""Conditional-convolution benchmark: DrasCLR's location-conditioned convolution batched (one
grouped convolution) against a per-sample Python loop.

Measures, in one run on this machine (CPU, torch threads as the environment gives them), the
median time of forward + backward of:
1. One `ConditionalConvolution` layer (16 -> 16 channels, 3^3 kernel, 8 experts) on a batch of
   32 patches of 32^3: batched, the per-sample loop (each sample convolved with its own mixed
   kernel, as research code often has it), and a plain `nn.Conv3d` of the same shape as a floor.
2. The `drasclr_small` encoder on the same batch: batched, with every conditional convolution
   swapped for the per-sample loop, and its plain-conv twin `drasclr_small_plain`.
The variants run interleaved in rounds (alternating which goes first) so all see the same
machine load; the batched and looped outputs are checked equal first.

Usage:
    python benchmarks/conditional_convolution_benchmark.py           # batch 32, 32^3 (minutes)
    python benchmarks/conditional_convolution_benchmark.py --quick   # tiny sizes: checks it runs
Writes a JSON report (default benchmarks/out/conditional_convolution.json) and prints a table.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import platform
import statistics
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn import functional

from anatomy_ssl.models import ConditionalConvolution, create_encoder


def per_sample_conditional_convolution(
    layer: ConditionalConvolution, x: torch.Tensor, location: torch.Tensor
) -> torch.Tensor:
    """The reference: `layer` applied one sample at a time, each with its own mixed kernel.

    `(B, C_in, *S)`, `(B, L)` -> `(B, C_out, *S')`, equal to `layer(x, location)`.
    """
    convolution = functional.conv3d if layer.spatial_dims == 3 else functional.conv2d
    routing = layer.routing_weights(location)  # (B, E)
    outputs = []
    for sample, weights in zip(x, routing, strict=True):
        kernel = torch.einsum("e,eoi...->oi...", weights, layer.weight)  # (C_out, C_in, *k)
        bias = None if layer.bias is None else weights @ layer.bias  # (C_out,)
        outputs.append(
            convolution(sample[None], kernel, bias, stride=layer.stride, padding=layer.padding)
        )
    return torch.cat(outputs)


@contextlib.contextmanager
def per_sample_loop(module: nn.Module) -> Iterator[None]:
    """Within the block, every `ConditionalConvolution` in `module` runs the per-sample loop."""
    layers = [m for m in module.modules() if isinstance(m, ConditionalConvolution)]
    for layer in layers:
        layer.forward = functools.partial(per_sample_conditional_convolution, layer)  # type: ignore[method-assign]
    try:
        yield
    finally:
        for layer in layers:
            del layer.forward


def _forward_backward(module: nn.Module, *inputs: torch.Tensor) -> Callable[[], float]:
    """A step that times one forward + backward of `module(*inputs)` and returns seconds."""

    def step() -> float:
        module.zero_grad(set_to_none=True)
        started = time.perf_counter()
        module(*inputs).sum().backward()
        return time.perf_counter() - started

    return step


def _looped(module: nn.Module, step: Callable[[], float]) -> Callable[[], float]:
    def looped_step() -> float:
        with per_sample_loop(module):
            return step()

    return looped_step


def _median_ms(steps: dict[str, Callable[[], float]], rounds: int) -> dict[str, float]:
    """Median milliseconds of each step over `rounds` interleaved rounds (after a warm-up)."""
    for step in steps.values():
        step()
    samples: dict[str, list[float]] = {name: [] for name in steps}
    names = list(steps)
    for round_index in range(rounds):
        # alternate the order, so no variant always runs on caches another warmed
        for name in names if round_index % 2 == 0 else names[::-1]:
            samples[name].append(steps[name]())
    return {f"{name}_ms": 1e3 * statistics.median(times) for name, times in samples.items()}


def _row(name: str, batch: int, size: int, times: dict[str, float]) -> dict[str, Any]:
    return {
        "name": name,
        "batch": batch,
        "patch_vox": size,
        **times,
        "speedup_batched_over_loop": times["per_sample_loop_ms"] / times["batched_ms"],
        "batched_over_plain": times["batched_ms"] / times["plain_ms"],
    }


def layer_timings(batch: int, size: int, channels: int, rounds: int) -> dict[str, Any]:
    torch.manual_seed(0)
    layer = ConditionalConvolution(3, channels, channels, 3, padding=1, experts=8)
    plain = nn.Conv3d(channels, channels, 3, padding=1)
    x = torch.randn(batch, channels, size, size, size, requires_grad=True)
    location = torch.rand(batch, 3) * 2 - 1
    with torch.no_grad():
        torch.testing.assert_close(
            layer(x, location),
            per_sample_conditional_convolution(layer, x, location),
            rtol=1e-4,
            atol=1e-4,
        )
    batched = _forward_backward(layer, x, location)
    times = _median_ms(
        {
            "batched": batched,
            "per_sample_loop": _looped(layer, batched),
            "plain": _forward_backward(plain, x),
        },
        rounds,
    )
    return _row(
        f"ConditionalConvolution {channels}->{channels}, 3^3, 8 experts", batch, size, times
    )


def encoder_timings(name: str, batch: int, size: int, rounds: int) -> dict[str, Any]:
    torch.manual_seed(0)
    encoder = create_encoder(name)
    plain = create_encoder(name, conditional=False)
    x = torch.randn(batch, 1, size, size, size)
    location = torch.rand(batch, 3) * 2 - 1
    with torch.no_grad():
        expected = encoder(x, location)
        with per_sample_loop(encoder):
            torch.testing.assert_close(encoder(x, location), expected, rtol=1e-3, atol=1e-4)
    batched = _forward_backward(encoder, x, location)
    times = _median_ms(
        {
            "batched": batched,
            "per_sample_loop": _looped(encoder, batched),
            "plain": _forward_backward(plain, x, location),
        },
        rounds,
    )
    return _row(f"encoder {name}", batch, size, times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: checks it runs")
    parser.add_argument("--rounds", type=int, default=10, help="timed rounds per variant")
    parser.add_argument(
        "--out", type=Path, default=Path("benchmarks/out/conditional_convolution.json")
    )
    args = parser.parse_args()
    if args.quick:
        encoder, batch, size, channels, rounds = "test_drasclr", 4, 8, 4, 2
    else:
        encoder, batch, size, channels, rounds = "drasclr_small", 32, 32, 16, args.rounds
    timings = [
        layer_timings(batch, size, channels, rounds),
        encoder_timings(encoder, batch, size, rounds),
    ]
    report = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}",
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "device": "cpu",
        "rounds": rounds,
        "timings": timings,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(f"forward + backward, batch {batch}, {size}^3, {report['torch_threads']} torch threads")
    print(f"{'':48}  batched ms  per-sample loop ms  plain ms  loop/batched")
    for row in timings:
        print(
            f"{row['name']:48}  {row['batched_ms']:10.1f}  {row['per_sample_loop_ms']:18.1f}  "
            f"{row['plain_ms']:8.1f}  {row['speedup_batched_over_loop']:12.2f}"
        )


if __name__ == "__main__":
    main()
