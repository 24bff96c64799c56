"""`SegmentationNetwork`: an encoder plus a U-Net decoder, giving dense per-voxel outputs."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from anatomy_ssl.models.encoder import Encoder
from anatomy_ssl.models.unet_decoder import UNetDecoder


class SegmentationNetwork(nn.Module):
    """Any `Encoder` with a `UNetDecoder` over its feature maps (a U-Net, Ronneberger et al.,
    MICCAI 2015, with a swappable contracting path).

    Used to fine-tune a pretrained encoder for segmentation (`num_classes` logits) and, with
    `num_classes = in_channels`, to reconstruct masked images. The encoder stays the submodule
    `encoder`, so exported encoder weights load into `network.encoder`.

    Args:
        encoder: the backbone.
        num_classes: output channels.
        decoder_channels: decoder width at each encoder map's resolution (see `UNetDecoder`).
    """

    def __init__(
        self,
        encoder: Encoder,
        num_classes: int,
        decoder_channels: Sequence[int] | None = None,
    ) -> None:
        super().__init__()
        self.encoder = encoder
        self.decoder = UNetDecoder(
            encoder.out_channels,
            encoder.strides,
            out_channels=num_classes,
            spatial_dims=encoder.spatial_dims,
            decoder_channels=decoder_channels,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """`(B, in_channels, *S)` -> `(B, num_classes, *S)` logits."""
        if x.ndim != self.encoder.spatial_dims + 2:
            raise ValueError(
                f"expected a {self.encoder.spatial_dims + 2}D batch (B, C, *spatial), got shape "
                f"{tuple(x.shape)}"
            )
        return self.decoder(self.encoder.forward_features(x), tuple(x.shape[2:]))
