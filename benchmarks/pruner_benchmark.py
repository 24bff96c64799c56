"""Purposive-pruner benchmark: what Eden v1's pruner costs per training step.

Measures, in one run on this machine:
1. The pruned InfoNCE loss (forward + backward) vectorized (`MoCoLoss(prune_threshold=...)`)
   against the same loss written as a per-sample Python loop, and against the unpruned loss,
   for queues of several sizes.
2. A whole `eden_v1` training step (views -> loss -> backward -> optimizer step) with the pruner
   on and off, interleaved (alternating which goes first) so both see the same machine load;
   the median step of each; the target is under 5 % extra.

Usage:
    python benchmarks/pruner_benchmark.py              # resunet_small, 32^3, batch 8 (a minute)
    python benchmarks/pruner_benchmark.py --quick      # tiny sizes: checks it runs
Writes a JSON report (default benchmarks/out/pruner.json) and prints a table.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
from torch.nn import functional

from anatomy_ssl.losses import MoCoLoss
from anatomy_ssl.methods import EdenV1Method
from anatomy_ssl.models import create_encoder
from anatomy_ssl.training.pretrain_config import resolve_pretrain_config

THRESHOLD = 0.8


def per_sample_pruned_infonce(
    query: torch.Tensor, key: torch.Tensor, queue: torch.Tensor, temperature: float = 0.2
) -> torch.Tensor:
    """The reference: the pruned InfoNCE one query at a time, as research code often has it."""
    losses = []
    queries, keys = functional.normalize(query, dim=1), functional.normalize(key, dim=1)
    for q, k in zip(queries, keys, strict=True):
        cosines = queue @ q  # (K,)
        kept = cosines[cosines < THRESHOLD]
        logits = torch.cat([(q * k).sum()[None], kept]) / temperature
        losses.append(torch.logsumexp(logits, 0) - logits[0])
    return torch.stack(losses).mean()


def _time(function: Callable[[], Any], repeats: int) -> float:
    function()  # warm-up
    started = time.perf_counter()
    for _ in range(repeats):
        function()
    return (time.perf_counter() - started) / repeats


def _time_backward(
    loss_fn: Callable[..., torch.Tensor], inputs: tuple[torch.Tensor, ...], repeats: int
) -> float:
    return _time(lambda: loss_fn(*inputs).backward(), repeats)


def loss_timings(batch: int, dim: int, queue_sizes: list[int], repeats: int) -> list[dict]:
    rows = []
    generator = torch.Generator().manual_seed(0)
    for size in queue_sizes:
        query = torch.randn(batch, dim, generator=generator, requires_grad=True)
        key = torch.randn(batch, dim, generator=generator)
        queue = functional.normalize(torch.randn(size, dim, generator=generator), dim=1)
        # plant look-alikes so the pruner has work to do
        queue[: batch * 4] = functional.normalize(
            query.detach().repeat(4, 1) + 0.2 * torch.randn(batch * 4, dim), dim=1
        )
        plain, pruned = MoCoLoss(0.2), MoCoLoss(0.2, prune_threshold=THRESHOLD)
        times = {
            name: _time_backward(loss_fn, (query, key, queue), repeats)
            for name, loss_fn in (
                ("unpruned_s", plain),
                ("vectorized_s", pruned),
                ("per_sample_loop_s", per_sample_pruned_infonce),
            )
        }
        torch.testing.assert_close(
            pruned(query, key, queue), per_sample_pruned_infonce(query, key, queue)
        )
        rows.append(
            {
                "queue_size": size,
                "batch": batch,
                **times,
                "loop_over_vectorized": times["per_sample_loop_s"] / times["vectorized_s"],
                "vectorized_over_unpruned": times["vectorized_s"] / times["unpruned_s"],
            }
        )
    return rows


def step_timings(args: argparse.Namespace) -> dict[str, Any]:
    """Median time of full eden_v1 steps with the pruner on and off, interleaved in rounds."""
    methods = {}
    for name, threshold in (("pruner_on", THRESHOLD), ("pruner_off", None)):
        config = resolve_pretrain_config(
            {
                "method": "eden_v1",
                "data.crop_size_vox": args.crop,
                "data.batch_size": args.batch,
                "encoder.name": args.encoder,
                "eden_v1.queue_size": args.queue,
                "eden_v1.prune_threshold": threshold,
            }
        )
        torch.manual_seed(0)
        encoder = create_encoder(args.encoder, spatial_dims=3, in_channels=1)
        method = EdenV1Method(encoder, config)
        method.log = lambda *args, **kwargs: None  # type: ignore[method-assign]  # no Trainer
        # a full queue, as after warm-up (an empty queue has nothing to prune)
        method.queue.enqueue(functional.normalize(torch.randn(args.queue, 128), dim=1))
        optimizer = torch.optim.AdamW(method.parameters(), lr=1e-4)
        methods[name] = (method, optimizer)
    views = [torch.rand(args.batch, 1, *(args.crop,) * 3) for _ in range(2)]

    def step(name: str) -> float:
        method, optimizer = methods[name]
        started = time.perf_counter()
        loss, _ = method.compute_loss(views, 0)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        method.update_teacher()
        return time.perf_counter() - started

    samples: dict[str, list[float]] = {name: [] for name in methods}
    for name in methods:
        step(name)  # warm-up
    names = list(methods)
    for round_index in range(args.rounds):
        # alternate which goes first, so neither always runs on a cache the other warmed
        for name in names if round_index % 2 == 0 else names[::-1]:
            samples[name].append(step(name))
    on = statistics.median(samples["pruner_on"])
    off = statistics.median(samples["pruner_off"])
    return {
        "encoder": args.encoder,
        "crop_vox": args.crop,
        "batch": args.batch,
        "queue_size": args.queue,
        "rounds": args.rounds,
        "pruner_on_step_s": on,
        "pruner_off_step_s": off,
        "overhead": on / off - 1.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: checks it runs")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/pruner.json"))
    args = parser.parse_args()
    if args.quick:
        args.encoder, args.crop, args.batch, args.queue, args.rounds = "test_resunet", 16, 2, 64, 2
        queue_sizes, repeats = [64, 256], 2
    else:
        args.encoder, args.crop, args.batch, args.queue, args.rounds = (
            "resunet_small",
            32,
            8,
            4096,
            60,
        )
        queue_sizes, repeats = [4096, 16384, 65536], 10
    torch.manual_seed(0)
    report = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {torch.get_num_threads()} torch threads",
        "torch": torch.__version__,
        "loss": loss_timings(2 * args.batch, 128, queue_sizes, repeats),
        "step": step_timings(args),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print("queue  unpruned ms  vectorized ms  per-sample loop ms  loop/vectorized")
    for row in report["loss"]:
        print(
            f"{row['queue_size']:>6}  {row['unpruned_s'] * 1e3:11.2f}  "
            f"{row['vectorized_s'] * 1e3:13.2f}  {row['per_sample_loop_s'] * 1e3:18.2f}  "
            f"{row['loop_over_vectorized']:15.1f}"
        )
    step = report["step"]
    print(
        f"eden_v1 step: pruner on {step['pruner_on_step_s'] * 1e3:.1f} ms, off "
        f"{step['pruner_off_step_s'] * 1e3:.1f} ms, overhead {100 * step['overhead']:+.1f} %"
    )


if __name__ == "__main__":
    main()
