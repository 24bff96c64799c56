"""`ResidualUNetEncoder`: the contracting path of a residual U-Net, one map per stage."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from monai.networks.blocks import ResidualUnit
from torch import nn

from anatomy_ssl.models.encoder import Encoder

NORMS = ("group", "instance", "batch")


class ResidualUNetEncoder(Encoder):
    """The encoder half of a residual U-Net (Ronneberger et al., "U-Net", MICCAI 2015, with the
    residual units of Kerfoot et al., "Left-Ventricle Quantification Using Residual U-Net",
    STACOM 2018, as in `monai.networks.nets.UNet`).

    Stage `i` is one `monai.networks.blocks.ResidualUnit` (`subunits` convolutions, 3^d kernels,
    norm -> PReLU) from `channels[i-1]` to `channels[i]`; the first stage has stride
    `first_stride` (1 or 2), every later stage stride 2. So with `first_stride=2` the maps have
    strides `(2, 4, 8, ...)`, with 1 they have `(1, 2, 4, ...)`.

    Normalization defaults to group norm (Wu and He, ECCV 2018) rather than MONAI UNet's
    instance norm: it is independent of the batch (small fine-tuning batches, no leakage
    between the samples of a contrastive batch) and, unlike instance norm, works when the
    coarsest map is a single voxel (e.g. 16^3 DINO local crops at stride 16).

    Args:
        spatial_dims: 2 or 3.
        in_channels: image channels.
        channels: output channels of each stage, finest first.
        first_stride: stride of the first stage, 1 or 2.
        subunits: convolutions per residual unit.
        norm: "group", "instance" or "batch".
        num_groups: groups of group norm; must divide every entry of `channels`.
    """

    def __init__(
        self,
        spatial_dims: int = 3,
        in_channels: int = 1,
        channels: Sequence[int] = (16, 32, 64, 128, 256),
        first_stride: int = 2,
        subunits: int = 2,
        norm: str = "group",
        num_groups: int = 8,
    ) -> None:
        super().__init__()
        if spatial_dims not in (2, 3):
            raise ValueError(f"spatial_dims must be 2 or 3, got {spatial_dims}")
        if first_stride not in (1, 2):
            raise ValueError(f"first_stride must be 1 or 2, got {first_stride}")
        if not channels:
            raise ValueError("channels must name at least one stage")
        if norm not in NORMS:
            raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
        if norm == "group" and any(width % num_groups for width in channels):
            raise ValueError(f"num_groups={num_groups} must divide every channel count {channels}")
        norm_arg: str | tuple[str, dict[str, int]] = (
            ("group", {"num_groups": num_groups}) if norm == "group" else norm
        )
        stage_strides = [first_stride] + [2] * (len(channels) - 1)
        self.stages = nn.ModuleList(
            ResidualUnit(
                spatial_dims,
                width_in,
                width_out,
                strides=stride,
                kernel_size=3,
                subunits=subunits,
                act="prelu",
                norm=norm_arg,
            )
            for width_in, width_out, stride in zip(
                [in_channels, *channels[:-1]], channels, stage_strides, strict=True
            )
        )
        self.spatial_dims = spatial_dims
        self.in_channels = in_channels
        self.out_channels = tuple(channels)
        self.strides = tuple(first_stride * 2**stage for stage in range(len(channels)))
        self.min_input_multiple = self.strides[-1]
        self.config = {
            "name": "resunet",
            "spatial_dims": spatial_dims,
            "in_channels": in_channels,
            "channels": tuple(channels),
            "first_stride": first_stride,
            "subunits": subunits,
            "norm": norm,
            "num_groups": num_groups,
        }

    def forward_features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """`(B, in_channels, *S)` -> one map per stage, `(B, channels[i], *S / strides[i])`."""
        features = []
        for stage in self.stages:
            x = stage(x)
            features.append(x)
        return features
