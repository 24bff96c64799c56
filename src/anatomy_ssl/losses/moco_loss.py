"""InfoNCE of MoCo: a query against its momentum-encoded key and a queue of past keys."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional

from anatomy_ssl.losses.purposive_pruner import prune_lookalike_negatives


class MoCoLoss(nn.Module):
    """InfoNCE loss of MoCo (He et al., "Momentum Contrast for Unsupervised Visual Representation
    Learning", CVPR 2020, eq. 1; MoCo v2: Chen et al., arXiv:2003.04297, 2020).

    With L2-normalized query `q`, its positive key `k+` and the queued negatives `k_i`::

        L_q = -log [ exp(q·k+ / T) / (exp(q·k+ / T) + sum_i exp(q·k_i / T)) ]

    i.e. cross-entropy over the logits `[q·k+, q·queue^T] / T` with target 0, averaged over the
    batch. Keys come from the momentum encoder, so no gradient flows into them or the queue.

    With a `prune_threshold` (Eden / Adam's purposive pruner), negatives with
    `q·k_i >= prune_threshold` are left out of the sum (see `prune_lookalike_negatives`).

    Args:
        temperature: `T`, > 0.
        prune_threshold: cosine at or above which a negative is pruned; None keeps them all.
    """

    def __init__(self, temperature: float = 0.2, prune_threshold: float | None = None) -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        if prune_threshold is not None and not -1.0 < prune_threshold <= 1.0:
            raise ValueError(f"prune_threshold must be in (-1, 1], got {prune_threshold}")
        self.temperature = temperature
        self.prune_threshold = prune_threshold

    def forward(self, query: torch.Tensor, key: torch.Tensor, queue: torch.Tensor) -> torch.Tensor:
        """Loss of a batch of queries (see `loss_and_pruned_fraction`)."""
        return self.loss_and_pruned_fraction(query, key, queue)[0]

    def loss_and_pruned_fraction(
        self, query: torch.Tensor, key: torch.Tensor, queue: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Loss of a batch of queries, and the fraction of negatives pruned (0 without pruning).

        Args:
            query: `(N, D)` query embeddings (normalized here).
            key: `(N, D)` positive keys, row `n` for `query[n]` (normalized and detached here).
            queue: `(K, D)` L2-normalized negative keys (detached here).

        Returns:
            Scalar loss, the mean over the `N` queries, and a detached 0-dim pruned fraction.
        """
        if query.shape != key.shape or query.ndim != 2 or queue.ndim != 2:
            raise ValueError(
                f"expected query and key (N, D) and queue (K, D), got {tuple(query.shape)}, "
                f"{tuple(key.shape)}, {tuple(queue.shape)}"
            )
        q = functional.normalize(query, dim=1)  # (N, D)
        k = functional.normalize(key.detach(), dim=1)  # (N, D)
        positive = (q * k).sum(dim=1, keepdim=True)  # (N, 1)
        negative = q @ queue.detach().to(q.dtype).T  # (N, K)
        pruned = negative.new_zeros(())
        if self.prune_threshold is not None:
            negative, pruned = prune_lookalike_negatives(negative, self.prune_threshold)
        logits = torch.cat([positive, negative], dim=1) / self.temperature  # (N, 1 + K)
        target = torch.zeros(q.shape[0], dtype=torch.long, device=q.device)
        return functional.cross_entropy(logits, target), pruned
