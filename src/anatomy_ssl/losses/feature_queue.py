"""A first-in-first-out ring of past keys: the negatives of MoCo (He et al., CVPR 2020)."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional

from anatomy_ssl.losses.cross_rank_gather import gather_without_grad


class FeatureQueue(nn.Module):
    """The `size` most recent L2-normalized keys of the global batch, held in registered buffers
    so they are saved with the model's `state_dict` (and restored on resume).

    Keys are written in ring order starting at `pointer`; the slot at `pointer` always holds the
    oldest key. Before the first `size` keys arrive the queue holds random unit vectors, as in
    MoCo.

    Attributes:
        features: `(K, D)` buffer of unit vectors.
        pointer: 0-dim long buffer, the next slot to write.

    Args:
        size: `K`, the number of keys kept.
        dim: `D`, the embedding size.
    """

    features: torch.Tensor
    pointer: torch.Tensor

    def __init__(self, size: int, dim: int) -> None:
        super().__init__()
        if size < 1 or dim < 1:
            raise ValueError(f"need size >= 1 and dim >= 1, got size={size}, dim={dim}")
        self.size = size
        self.register_buffer("features", functional.normalize(torch.randn(size, dim), dim=1))
        self.register_buffer("pointer", torch.zeros((), dtype=torch.long))

    @torch.no_grad()
    def enqueue(self, keys: torch.Tensor) -> None:
        """Normalize `keys`, gather them from every rank (in rank order) and write them over the
        oldest entries, wrapping around the end. If the global batch is larger than the queue,
        only its last `K` keys are kept.

        Args:
            keys: `(N, D)` local keys; `N` must be the same on every rank.
        """
        if keys.ndim != 2 or keys.shape[1] != self.features.shape[1]:
            raise ValueError(
                f"expected keys (N, {self.features.shape[1]}), got {tuple(keys.shape)}"
            )
        gathered = gather_without_grad(functional.normalize(keys, dim=1))  # (M, D), M = world * N
        count = gathered.shape[0]
        kept = gathered[-self.size :]  # (min(M, K), D)
        first = self.pointer + (count - kept.shape[0])  # slot of the first kept key
        slots = (first + torch.arange(kept.shape[0], device=self.features.device)) % self.size
        self.features[slots] = kept.to(self.features)
        self.pointer.copy_((self.pointer + count) % self.size)
