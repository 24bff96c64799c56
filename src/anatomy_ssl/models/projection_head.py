"""`ProjectionHead`: the MLP that maps pooled embeddings into a contrastive loss's space."""

from __future__ import annotations

import torch
from torch import nn


class ProjectionHead(nn.Module):
    """MLP projection head of SimCLR (Chen et al., "A Simple Framework for Contrastive Learning
    of Visual Representations", ICML 2020) and MoCo v2 (Chen et al., "Improved Baselines with
    Momentum Contrastive Learning", 2020).

    `num_layers - 1` hidden layers `Linear -> [BatchNorm] -> ReLU` of width `hidden_dim`, then a
    plain `Linear` to `out_dim`. SimCLR uses batch norm, MoCo v2 does not (`batch_norm=False`).

    Args:
        in_dim: input width (the encoder's `embed_dim`).
        hidden_dim: width of the hidden layers.
        out_dim: output width.
        num_layers: linear layers, >= 1 (1: a single linear map).
        batch_norm: batch norm after each hidden linear layer.
    """

    def __init__(
        self,
        in_dim: int,
        hidden_dim: int = 2048,
        out_dim: int = 128,
        num_layers: int = 2,
        batch_norm: bool = True,
    ) -> None:
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"num_layers must be >= 1, got {num_layers}")
        layers: list[nn.Module] = []
        width = in_dim
        for _ in range(num_layers - 1):
            # The bias is redundant before batch norm.
            layers.append(nn.Linear(width, hidden_dim, bias=not batch_norm))
            if batch_norm:
                layers.append(nn.BatchNorm1d(hidden_dim))
            layers.append(nn.ReLU(inplace=True))
            width = hidden_dim
        layers.append(nn.Linear(width, out_dim))
        self.mlp = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """`(N, in_dim)` -> `(N, out_dim)`."""
        return self.mlp(x)
