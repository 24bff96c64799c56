"""`ProbeCeilingNetwork`: an encoder trained for every probe of few-shot segmentation at once.

The supervised ceiling of a benchmark must beat scratch under each probe, or that probe's column
cannot rank encoders. An encoder trained only through a U-Net decoder is a strong start for
fine-tuning but its maps need not be linearly decodable: on the phantom radiographs a frozen
linear head scored 0.15-0.19 Dice on such an encoder against 0.38-0.41 on a random one. This
network trains the encoder through the U-Net decoder and, on the same features, through the two
linear heads the frozen probes use (every map, and every map but the finest), so the ceiling's
features serve all three probes.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from anatomy_ssl.evaluation.frozen_feature_head import LinearMapHead
from anatomy_ssl.models import Encoder, SegmentationNetwork


class ProbeCeilingNetwork(SegmentationNetwork):
    """A trainable encoder with a U-Net decoder and two linear heads over its maps.

    Args:
        encoder: the backbone (trained).
        num_classes: output channels of every head.
        deep_levels: the maps of the second linear head (the `frozen_deep` probe's).
        decoder_channels: U-Net decoder widths.
    """

    def __init__(
        self,
        encoder: Encoder,
        num_classes: int,
        *,
        deep_levels: Sequence[int],
        decoder_channels: Sequence[int] | None = None,
    ) -> None:
        super().__init__(encoder, num_classes, decoder_channels=decoder_channels)
        dims = encoder.spatial_dims
        self.linear_all = LinearMapHead(encoder.out_channels, dims, num_classes)
        self.linear_deep = LinearMapHead(
            encoder.out_channels, dims, num_classes, levels=deep_levels
        )

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:  # type: ignore[override]
        """`(B, in_channels, *S)` -> the U-Net's, the all-map head's and the deep head's
        `(B, num_classes, *S)` logits."""
        if x.ndim != self.encoder.spatial_dims + 2:
            raise ValueError(
                f"expected a {self.encoder.spatial_dims + 2}D batch (B, C, *spatial), got shape "
                f"{tuple(x.shape)}"
            )
        size = tuple(x.shape[2:])
        maps = self.encoder.forward_features(x)  # (B, C_s, *S / stride_s) per scale
        return self.decoder(maps, size), self.linear_all(maps, size), self.linear_deep(maps, size)
