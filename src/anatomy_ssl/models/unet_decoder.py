"""`UNetDecoder`: a U-Net expanding path over any encoder's multi-scale feature maps."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import torch
from monai.networks.blocks import UnetOutBlock, UnetResBlock
from monai.networks.layers.factories import Conv
from torch import nn
from torch.nn import functional

DEFAULT_MAX_CHANNELS = 256  # caps default decoder widths (a ViT-B's 768 channels are costly)


class UNetDecoder(nn.Module):
    """U-Net expanding path (Ronneberger et al., "U-Net", MICCAI 2015) for the feature maps of an
    `Encoder`, whatever their number and strides (CNN pyramids, Swin's five maps, a ViT's one).

    The coarsest map is projected (1x1 conv) to `decoder_channels[-1]`. Each finer map then gets
    one stage: upsample (transposed conv, kernel = stride = the stride ratio) to that map's
    resolution and width `decoder_channels[i]`, concatenate the map, and apply a residual
    3^d conv block (MONAI `UnetResBlock`, instance norm). If the finest map is not at full
    resolution, further stages without a skip upsample by 2 (or by the whole remaining factor
    when it is not a power of 2), halving the width each time. A 1x1 conv gives the output.

    Args:
        encoder_channels: channels of the encoder's maps, finest first.
        encoder_strides: strides of the encoder's maps, finest first; each divides the next.
        out_channels: output channels (classes, or image channels for reconstruction).
        spatial_dims: 2 or 3.
        decoder_channels: decoder width at each encoder map's resolution, finest first
            (default: the encoder's channels, capped at 256).
    """

    def __init__(
        self,
        encoder_channels: Sequence[int],
        encoder_strides: Sequence[int],
        out_channels: int,
        spatial_dims: int,
        decoder_channels: Sequence[int] | None = None,
    ) -> None:
        super().__init__()
        if spatial_dims not in (2, 3):
            raise ValueError(f"spatial_dims must be 2 or 3, got {spatial_dims}")
        if not encoder_channels or len(encoder_channels) != len(encoder_strides):
            raise ValueError(
                f"need one stride per encoder map, got channels {list(encoder_channels)} and "
                f"strides {list(encoder_strides)}"
            )
        strides = list(encoder_strides)
        if min(strides) < 1 or any(coarse % fine for fine, coarse in itertools.pairwise(strides)):
            raise ValueError(f"each stride must divide the next, got {list(encoder_strides)}")
        widths = (
            [min(width, DEFAULT_MAX_CHANNELS) for width in encoder_channels]
            if decoder_channels is None
            else list(decoder_channels)
        )
        if len(widths) != len(encoder_channels):
            raise ValueError(
                f"decoder_channels needs {len(encoder_channels)} entries, got {len(widths)}"
            )
        conv = Conv[Conv.CONV, spatial_dims]
        self.bottleneck = conv(encoder_channels[-1], widths[-1], kernel_size=1)
        self.skip_stages = nn.ModuleList(
            _UpStage(
                spatial_dims,
                widths[level + 1],
                encoder_channels[level],
                widths[level],
                encoder_strides[level + 1] // encoder_strides[level],
            )
            for level in reversed(range(len(encoder_channels) - 1))
        )
        self.full_resolution_stages = nn.ModuleList()
        width = widths[0]
        for factor in _upsampling_factors(encoder_strides[0]):
            self.full_resolution_stages.append(
                _UpStage(spatial_dims, width, 0, max(width // 2, 1), factor)
            )
            width = max(width // 2, 1)
        self.head = UnetOutBlock(spatial_dims, width, out_channels)
        self.spatial_dims = spatial_dims

    def forward(self, features: Sequence[torch.Tensor], output_size: Sequence[int]) -> torch.Tensor:
        """Decode encoder maps to a full-resolution output.

        Args:
            features: the encoder's maps, finest first, `(B, encoder_channels[i], *S_i)`.
            output_size: spatial size S of the result (the encoder input's size); if the
                stages end elsewhere (input not divisible by the coarsest stride), the result is
                resampled to it.

        Returns:
            `(B, out_channels, *output_size)`.
        """
        return self.forward_with_hidden(features, output_size)[0]

    def forward_with_hidden(
        self, features: Sequence[torch.Tensor], output_size: Sequence[int]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """`forward`, and the decoder's first upsampled map (Alice's decoder tokens):
        `(B, decoder_channels[-2], *S_{-2})` at the second-coarsest encoder map's resolution
        (the bottleneck projection `(B, decoder_channels[-1], *S_{-1})` for a one-map encoder).
        """
        if len(features) != len(self.skip_stages) + 1:
            raise ValueError(f"expected {len(self.skip_stages) + 1} maps, got {len(features)}")
        x = self.bottleneck(features[-1])
        hidden = x
        for index, (stage, skip) in enumerate(
            zip(self.skip_stages, reversed(features[:-1]), strict=True)
        ):
            x = stage(x, skip)
            if index == 0:
                hidden = x
        for stage in self.full_resolution_stages:
            x = stage(x, None)
        x = self.head(x)  # (B, out_channels, *S')
        size = tuple(output_size)
        if tuple(x.shape[2:]) != size:
            x = functional.interpolate(x, size=size, mode=_linear_mode(self.spatial_dims))
        return x, hidden


class _UpStage(nn.Module):
    """Transposed-conv upsampling by `factor`, optional skip concatenation, residual conv block."""

    def __init__(
        self,
        spatial_dims: int,
        in_channels: int,
        skip_channels: int,
        out_channels: int,
        factor: int,
    ) -> None:
        super().__init__()
        transposed = Conv[Conv.CONVTRANS, spatial_dims]
        self.upsample = transposed(in_channels, out_channels, kernel_size=factor, stride=factor)
        self.block = UnetResBlock(
            spatial_dims,
            out_channels + skip_channels,
            out_channels,
            kernel_size=3,
            stride=1,
            norm_name="instance",
        )
        self.spatial_dims = spatial_dims

    def forward(self, x: torch.Tensor, skip: torch.Tensor | None) -> torch.Tensor:
        """`(B, in, *S)` [+ skip `(B, skip, *S * factor)`] -> `(B, out, *S * factor)`."""
        x = self.upsample(x)
        if skip is not None:
            if x.shape[2:] != skip.shape[2:]:  # inputs not divisible by the coarsest stride
                x = functional.interpolate(
                    x, size=skip.shape[2:], mode=_linear_mode(self.spatial_dims)
                )
            x = torch.cat([x, skip], dim=1)
        return self.block(x)


def _upsampling_factors(stride: int) -> list[int]:
    """Steps from `stride` to full resolution: 2s while the rest is even, then the rest."""
    factors = []
    while stride > 1 and stride % 2 == 0:
        factors.append(2)
        stride //= 2
    if stride > 1:
        factors.append(stride)
    return factors


def _linear_mode(spatial_dims: int) -> str:
    return "trilinear" if spatial_dims == 3 else "bilinear"
