"""`DINOHead`: the projection head of DINO, ending in a weight-normalized prototype layer."""

from __future__ import annotations

import itertools

import torch
from torch import nn
from torch.nn import functional
from torch.nn.utils.parametrizations import weight_norm


class DINOHead(nn.Module):
    """Projection head of DINO (Caron et al., "Emerging Properties in Self-Supervised Vision
    Transformers", ICCV 2021).

    An MLP (`num_layers` linear layers, GELU between them) maps to a `bottleneck_dim` code that
    is L2-normalized; a weight-normalized linear layer without bias maps it to `out_dim` logits.
    With `norm_last_layer` the weight-norm gain is fixed to 1, so every prototype (row of the
    last weight) has unit norm and each logit is a cosine similarity in [-1, 1], which DINO
    found to stabilise training.

    Args:
        in_dim: input width (the encoder's `embed_dim`).
        out_dim: number of prototypes K.
        hidden_dim: width of the hidden MLP layers.
        bottleneck_dim: width of the normalized code.
        num_layers: linear layers of the MLP, >= 1.
        norm_last_layer: freeze the last layer's weight-norm gain at 1.
        batch_norm: BatchNorm after each hidden linear layer (DINO's `use_bn_in_head`, used
            with convolutional backbones), which removes the direction every pooled CNN
            embedding shares.
    """

    def __init__(
        self,
        in_dim: int,
        out_dim: int = 65536,
        hidden_dim: int = 2048,
        bottleneck_dim: int = 256,
        num_layers: int = 3,
        norm_last_layer: bool = True,
        batch_norm: bool = False,
    ) -> None:
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"num_layers must be >= 1, got {num_layers}")
        widths = [in_dim] + [hidden_dim] * (num_layers - 1) + [bottleneck_dim]
        layers: list[nn.Module] = []
        for index, (width_in, width_out) in enumerate(itertools.pairwise(widths)):
            if index > 0:
                if batch_norm:
                    layers.append(nn.BatchNorm1d(width_in))
                layers.append(nn.GELU())
            layers.append(nn.Linear(width_in, width_out))
        self.mlp = nn.Sequential(*layers)
        for module in self.mlp:
            if isinstance(module, nn.Linear):
                nn.init.trunc_normal_(module.weight, std=0.02)
                nn.init.zeros_(module.bias)
        self.last_layer = weight_norm(nn.Linear(bottleneck_dim, out_dim, bias=False))
        gain = self.last_layer.parametrizations.weight.original0  # (K, 1)
        with torch.no_grad():
            gain.fill_(1.0)
        gain.requires_grad_(not norm_last_layer)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """`(N, in_dim)` -> `(N, out_dim)` logits."""
        code = functional.normalize(self.mlp(x), dim=-1)  # (N, bottleneck_dim), unit rows
        return self.last_layer(code)
