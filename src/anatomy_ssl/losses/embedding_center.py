"""A running mean of teacher embeddings, subtracted from targets (DINO-style centring)."""

from __future__ import annotations

import torch
from torch import distributed as dist
from torch import nn

from anatomy_ssl.losses.cross_rank_gather import rank_and_world


class EmbeddingCenter(nn.Module):
    """`x -> x - c`, with `c` an EMA of the batch mean of `x` (averaged across ranks).

    Pooled post-activation CNN embeddings share one dominant direction (at initialization
    their pairwise cosines are close to 1), so a cosine loss against raw targets is nearly
    satisfied by predicting that direction. Centring the targets, as DINO centres its teacher
    (Caron et al., ICCV 2021), leaves what tells one target from another. The first batch
    sets `c` to its own mean, so there is no warm-up from zero.

    Args:
        dim: embedding width D.
        momentum: EMA momentum of `c`, in [0, 1).
    """

    center: torch.Tensor
    initialized: torch.Tensor

    def __init__(self, dim: int, momentum: float = 0.9) -> None:
        super().__init__()
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1), got {momentum}")
        self.momentum = momentum
        self.register_buffer("center", torch.zeros(1, dim))
        self.register_buffer("initialized", torch.zeros((), dtype=torch.bool))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """`(N, D)` -> `(N, D)` centred (detached); in training mode `c` first moves towards
        this batch's mean (so the batch is centred by a mean that includes it)."""
        x = x.detach()
        if self.training:
            self._update(x)
        return x - self.center.to(x.dtype)

    @torch.no_grad()
    def _update(self, x: torch.Tensor) -> None:
        batch_sum = x.to(self.center).sum(dim=0, keepdim=True)  # (1, D)
        _, world = rank_and_world()
        if world > 1:
            dist.all_reduce(batch_sum)
        batch_mean = batch_sum / (x.shape[0] * world)
        if not bool(self.initialized):
            self.center.copy_(batch_mean)
            self.initialized.fill_(True)
        else:
            self.center.mul_(self.momentum).add_(batch_mean, alpha=1.0 - self.momentum)
