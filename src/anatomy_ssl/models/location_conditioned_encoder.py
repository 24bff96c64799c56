"""`LocationConditionedEncoder`: DrasCLR's residual CNN whose convolutions are conditioned on
where in the anatomy a patch lies."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from anatomy_ssl.models.conditional_convolution import ConditionalConvolution
from anatomy_ssl.models.encoder import Encoder

_PLAIN_CONVOLUTIONS: dict[int, type[nn.Conv2d] | type[nn.Conv3d]] = {2: nn.Conv2d, 3: nn.Conv3d}


class _ResidualStage(nn.Module):
    """`subunits` 3^d convolutions, each followed by group norm -> PReLU, plus a residual
    (identity, or a 1x1 convolution with the stage's stride when the shape changes).

    `(B, C_in, *S)`, `(B, L)` -> `(B, C_out, *S / stride)`.
    """

    def __init__(
        self,
        spatial_dims: int,
        in_channels: int,
        out_channels: int,
        stride: int,
        subunits: int,
        num_groups: int,
        experts: int,
        conditional: bool,
    ) -> None:
        super().__init__()
        self.conditional = conditional
        plain = _PLAIN_CONVOLUTIONS[spatial_dims]
        convolutions: list[nn.Module] = []
        for index in range(subunits):
            width_in, unit_stride = (in_channels, stride) if index == 0 else (out_channels, 1)
            convolutions.append(
                ConditionalConvolution(
                    spatial_dims, width_in, out_channels, 3, unit_stride, 1, experts=experts
                )
                if conditional
                else plain(width_in, out_channels, 3, unit_stride, 1)
            )
        self.convolutions = nn.ModuleList(convolutions)
        self.norms = nn.ModuleList(nn.GroupNorm(num_groups, out_channels) for _ in range(subunits))
        self.activations = nn.ModuleList(nn.PReLU() for _ in range(subunits))
        self.residual: nn.Module = (
            plain(in_channels, out_channels, 1, stride)
            if stride != 1 or in_channels != out_channels
            else nn.Identity()
        )

    def forward(self, x: torch.Tensor, location: torch.Tensor) -> torch.Tensor:
        residual = self.residual(x)  # (B, C_out, *S / stride)
        for convolution, norm, activation in zip(
            self.convolutions, self.norms, self.activations, strict=True
        ):
            x = convolution(x, location) if self.conditional else convolution(x)
            x = activation(norm(x))
        return x + residual


class LocationConditionedEncoder(Encoder):
    """The location-conditioned encoder of DrasCLR (Yu et al., "DrasCLR: A Self-supervised
    Framework of Learning Disease-related and Anatomy-specific Representation for 3D Medical
    Images", arXiv 2302.10390): a residual CNN in which every 3^d convolution is a
    `ConditionalConvolution`, its E expert kernels mixed by the patch's normalized location.

    The stages follow `ResidualUNetEncoder`: stage `i` maps `channels[i-1]` to `channels[i]`
    with `subunits` 3^d convolutions (group norm -> PReLU after each), the first of stride
    `first_stride` in stage 0 and 2 in every later stage, plus a residual that is a 1x1
    convolution with the stage's stride when the shape changes. Strides `(2, 4, 8, ...)` with
    `first_stride=2`, `(1, 2, 4, ...)` with 1. Group norm keeps samples independent, so the
    batch may mix locations freely (the paper's per-location batches biased BatchNorm).

    With `conditional=False` it is the ablation twin: the same widths and depth with plain
    convolutions; it still requires (and ignores) `location`, so both are called alike.

    Call it as `encoder(x, location)`: `x` `(B, in_channels, *S)`, `location` `(B,
    spatial_dims)`, the patch centre in the common reference (atlas) frame normalized to
    [-1, 1] per axis.

    Args:
        spatial_dims: 2 or 3.
        in_channels: image channels.
        channels: output channels of each stage, finest first.
        first_stride: stride of the first stage, 1 or 2.
        subunits: convolutions per stage.
        num_groups: groups of group norm; must divide every entry of `channels`.
        experts: expert kernels E per convolution (8 in DrasCLR).
        conditional: location-conditioned convolutions (True) or plain ones (the ablation).
    """

    requires_location = True

    def __init__(
        self,
        spatial_dims: int = 3,
        in_channels: int = 1,
        channels: Sequence[int] = (16, 32, 64, 128, 256),
        first_stride: int = 2,
        subunits: int = 2,
        num_groups: int = 8,
        experts: int = 8,
        conditional: bool = True,
    ) -> None:
        super().__init__()
        if spatial_dims not in (2, 3):
            raise ValueError(f"spatial_dims must be 2 or 3, got {spatial_dims}")
        if first_stride not in (1, 2):
            raise ValueError(f"first_stride must be 1 or 2, got {first_stride}")
        if not channels:
            raise ValueError("channels must name at least one stage")
        if subunits < 1:
            raise ValueError(f"subunits must be at least 1, got {subunits}")
        if any(width % num_groups for width in channels):
            raise ValueError(f"num_groups={num_groups} must divide every channel count {channels}")
        stage_strides = [first_stride] + [2] * (len(channels) - 1)
        self.stages = nn.ModuleList(
            _ResidualStage(
                spatial_dims,
                width_in,
                width_out,
                stride,
                subunits,
                num_groups,
                experts,
                conditional,
            )
            for width_in, width_out, stride in zip(
                [in_channels, *channels[:-1]], channels, stage_strides, strict=True
            )
        )
        self.conditional = conditional
        self.spatial_dims = spatial_dims
        self.in_channels = in_channels
        self.out_channels = tuple(channels)
        self.strides = tuple(first_stride * 2**stage for stage in range(len(channels)))
        self.min_input_multiple = self.strides[-1]
        self.config = {
            "name": "drasclr",
            "spatial_dims": spatial_dims,
            "in_channels": in_channels,
            "channels": tuple(channels),
            "first_stride": first_stride,
            "subunits": subunits,
            "num_groups": num_groups,
            "experts": experts,
            "conditional": conditional,
        }

    def forward_features(
        self, x: torch.Tensor, location: torch.Tensor | None = None
    ) -> list[torch.Tensor]:
        """`(B, in_channels, *S)` images and `(B, spatial_dims)` locations in [-1, 1] -> one
        map per stage, `(B, channels[i], *S / strides[i])`.

        Raises:
            ValueError: `location` missing or not `(B, spatial_dims)`.
        """
        if location is None:
            raise ValueError(
                "LocationConditionedEncoder needs `location`: the normalized patch centre in "
                f"the reference frame, (B, {self.spatial_dims}) in [-1, 1]; call "
                "encoder(x, location)"
            )
        if location.shape != (x.shape[0], self.spatial_dims):
            raise ValueError(
                f"location must be (B, {self.spatial_dims}) = ({x.shape[0]}, "
                f"{self.spatial_dims}), got shape {tuple(location.shape)}"
            )
        features = []
        for stage in self.stages:
            x = stage(x, location)
            features.append(x)
        return features

    def forward_pooled(self, x: torch.Tensor, location: torch.Tensor | None = None) -> torch.Tensor:
        """`(B, in_channels, *S)`, `(B, spatial_dims)` -> `(B, embed_dim)`: global average of
        the coarsest map."""
        return self.forward_features(x, location)[-1].flatten(2).mean(dim=2)

    def forward(self, x: torch.Tensor, location: torch.Tensor | None = None) -> torch.Tensor:
        return self.forward_pooled(x, location)
