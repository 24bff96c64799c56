"""Representation-collapse statistics of a batch of embeddings (logged, and warned about)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

#: A uniform spread of L2-normalized D-dim embeddings has per-dimension std ~ 1/sqrt(D); a
#: collapsed one has std ~ 0. Warn below this fraction of the uniform value.
STD_WARNING_FRACTION = 0.2
#: Warn when the effective rank falls below this many dimensions (and below D).
RANK_WARNING_FLOOR = 2.0


@dataclass(frozen=True)
class EmbeddingStatistics:
    """Spread of a batch of embeddings.

    Attributes:
        normalized_std: mean over dimensions of the std of the L2-normalized embeddings, divided
            by the uniform value 1/sqrt(D): about 1 for a healthy spread, 0 for a collapse.
        effective_rank: exp of the entropy of the normalized singular values of the centred
            embeddings (Roy & Vetterli 2007): between 1 and min(N, D).
    """

    normalized_std: float
    effective_rank: float

    @property
    def collapsed(self) -> bool:
        return self.normalized_std < STD_WARNING_FRACTION or self.effective_rank < (
            RANK_WARNING_FLOOR
        )


def embedding_statistics(embeddings: torch.Tensor) -> EmbeddingStatistics:
    """Statistics of `(N, D)` embeddings (N >= 2), computed in float32 without gradients."""
    with torch.no_grad():
        z = torch.nn.functional.normalize(embeddings.detach().float(), dim=1)  # (N, D)
        dim = z.shape[1]
        normalized_std = float(z.std(dim=0).mean()) * dim**0.5
        singular = torch.linalg.svdvals(z - z.mean(dim=0, keepdim=True))  # (min(N, D),)
        total = singular.sum()
        if total <= 0:
            return EmbeddingStatistics(normalized_std, 1.0)
        p = singular / total
        entropy = -(p * torch.log(p.clamp_min(1e-12))).sum()
        return EmbeddingStatistics(normalized_std, float(torch.exp(entropy)))
