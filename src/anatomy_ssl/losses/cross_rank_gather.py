"""Gather per-rank tensors along the batch axis, with or without gradients.

Contrastive losses draw negatives from the whole global batch, not only the local one; these
helpers concatenate every rank's `(N, D)` tensor in rank order. Every rank must pass the same `N`
(use `drop_last=True` in the data loader). Outside `torch.distributed` (or with world size 1) they
return their input unchanged, so the same loss code runs on one device and on many.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.distributed as dist


def _distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank_and_world() -> tuple[int, int]:
    """This process' rank and the world size; `(0, 1)` outside `torch.distributed`."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


class _AllGatherWithGrad(torch.autograd.Function):
    """All-gather whose backward sums every rank's gradient for this rank's slice.

    Written on `all_reduce` (supported by every backend, gloo included) rather than on
    `torch.distributed.nn.functional.all_gather`, which is deprecated in recent PyTorch.
    """

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        rank, world = rank_and_world()
        ctx.rank = rank
        ctx.rows = x.shape[0]
        x = x.contiguous()
        parts = [torch.empty_like(x) for _ in range(world)]
        dist.all_gather(parts, x)
        return torch.cat(parts)  # (world * N, D)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        # Every rank's loss depends on this rank's rows: their gradient is the sum over ranks.
        grad = grad.contiguous().clone()  # (world * N, D)
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        return grad[ctx.rank * ctx.rows : (ctx.rank + 1) * ctx.rows]  # (N, D)


def gather_with_grad(x: torch.Tensor) -> torch.Tensor:
    """Concatenate `(N, ...)` tensors of all ranks in rank order, keeping gradients.

    The backward pass sends each rank the sum of all ranks' gradients for its own rows, so with
    DDP's gradient averaging the result equals the gradient of the mean loss over the global
    batch.

    Args:
        x: `(N, ...)` local tensor; `N` must be the same on every rank.

    Returns:
        `(world * N, ...)`; `x` itself when not distributed.
    """
    if not _distributed():
        return x
    gathered: torch.Tensor = _AllGatherWithGrad.apply(x)
    return gathered


def gather_without_grad(x: torch.Tensor) -> torch.Tensor:
    """Concatenate `(N, ...)` tensors of all ranks in rank order, detached (queue updates).

    Args:
        x: `(N, ...)` local tensor; `N` must be the same on every rank.

    Returns:
        `(world * N, ...)` detached; `x.detach()` when not distributed.
    """
    x = x.detach()
    if not _distributed():
        return x
    x = x.contiguous()
    parts = [torch.empty_like(x) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, x)
    return torch.cat(parts)
