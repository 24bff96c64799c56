"""The encoder contract shared by every backbone, 2D and 3D (docs/architecture.md, "Encoder and
card")."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


class Encoder(nn.Module):
    """A backbone that maps images to multi-scale feature maps and a pooled embedding.

    Subclasses set, in `__init__`:
        spatial_dims: 2 (radiographs, `(B, C, H, W)`) or 3 (volumes, `(B, C, D, H, W)`).
        in_channels: channels of the input image.
        out_channels: channels of each feature map, in stride order (finest first).
        strides: downsampling factor of each feature map relative to the input, e.g. (2, 4, 8, 16).
        min_input_multiple: spatial sizes must be divisible by this (e.g. 32 for Swin).
        config: `{"name": registry name, **kwargs}` that rebuilds the same architecture through
            `create_encoder(**config)`; written into exported cards.
    and implement `forward_features`.

    `requires_location` is False here; encoders that take `(x, location)` (the normalized
    patch centre, e.g. `LocationConditionedEncoder`) set it True. `trainable` is False only for
    parameter-free controls (`IntensityHistogramEncoder`), which can be evaluated, not
    pretrained.
    """

    spatial_dims: int
    in_channels: int
    out_channels: tuple[int, ...]
    strides: tuple[int, ...]
    min_input_multiple: int
    config: dict[str, Any]
    requires_location: bool = False
    trainable: bool = True

    @property
    def embed_dim(self) -> int:
        """Width D of `forward_pooled`: the channels of the coarsest map."""
        return self.out_channels[-1]

    def forward_features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """`(B, in_channels, *spatial)` -> one map per scale, `(B, out_channels[s], *spatial /
        strides[s])`, finest first."""
        raise NotImplementedError

    def forward_pooled(self, x: torch.Tensor) -> torch.Tensor:
        """`(B, in_channels, *spatial)` -> `(B, embed_dim)`: global average of the coarsest map."""
        return self.forward_features(x)[-1].flatten(2).mean(dim=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_pooled(x)
