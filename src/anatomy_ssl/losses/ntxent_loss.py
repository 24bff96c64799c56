"""NT-Xent, the normalized temperature-scaled cross-entropy of SimCLR, with cross-rank negatives."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional

from anatomy_ssl.losses.cross_rank_gather import gather_with_grad, rank_and_world


class NTXentLoss(nn.Module):
    """NT-Xent loss of SimCLR (Chen et al., "A Simple Framework for Contrastive Learning of Visual
    Representations", ICML 2020, eq. 1).

    With `sim(u, v) = u·v / (|u| |v|)` and temperature `T`, anchor `i` and its positive `j` (the
    other view of the same sample)::

        l(i, j) = -log [ exp(sim(z_i, z_j) / T) / sum_{k != i} exp(sim(z_i, z_k) / T) ]

    where `k` runs over all `2 * N * world` embeddings of the global batch (every other embedding
    is a negative). The loss is the mean of `l` over this rank's `2N` anchors; the mean over ranks
    (what DDP's gradient averaging optimizes) is then the mean over the whole global batch, and
    gradients flow into other ranks' embeddings through `gather_with_grad`.

    Args:
        temperature: `T`, > 0.
        gather_across_ranks: draw negatives from every rank's batch (when distributed).
    """

    def __init__(self, temperature: float = 0.1, gather_across_ranks: bool = True) -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        self.temperature = temperature
        self.gather_across_ranks = gather_across_ranks

    def forward(self, z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
        """Loss of two views.

        Args:
            z1: `(N, D)` embeddings of the first view.
            z2: `(N, D)` embeddings of the second view, row `n` from the same sample as `z1[n]`.

        Returns:
            Scalar loss, the mean over the `2N` local anchors.
        """
        if z1.shape != z2.shape or z1.ndim != 2:
            raise ValueError(
                f"expected z1, z2 (N, D) of one shape, got {tuple(z1.shape)}, {tuple(z2.shape)}"
            )
        z1 = functional.normalize(z1, dim=1)
        z2 = functional.normalize(z2, dim=1)
        n = z1.shape[0]
        rank, world = rank_and_world() if self.gather_across_ranks else (0, 1)
        all1 = gather_with_grad(z1) if self.gather_across_ranks else z1  # (world * N, D)
        all2 = gather_with_grad(z2) if self.gather_across_ranks else z2  # (world * N, D)
        candidates = torch.cat([all1, all2])  # (2 * world * N, D): view 1 of all, then view 2
        anchors = torch.cat([z1, z2])  # (2N, D)
        logits = anchors @ candidates.T / self.temperature  # (2N, 2 * world * N)

        local = torch.arange(n, device=z1.device) + rank * n  # rows of z1 among all1
        offset = world * n  # where view 2 starts among the candidates
        self_index = torch.cat([local, local + offset])  # (2N,)
        positive_index = torch.cat([local + offset, local])  # (2N,)
        # (2N, 2 * world * N), True at k == i
        is_self = functional.one_hot(self_index, num_classes=logits.shape[1]).bool()
        # A large finite negative (not -inf) drops k == i from the softmax without NaN.
        logits = logits.masked_fill(is_self, torch.finfo(logits.dtype).min)
        return functional.cross_entropy(logits, positive_index)
