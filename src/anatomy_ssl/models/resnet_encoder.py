"""`ResNetEncoder`: MONAI's 2D / 3D ResNet as a four-scale feature encoder."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from monai.networks.nets import ResNet

from anatomy_ssl.models.encoder import Encoder

BLOCK_EXPANSION = {"basic": 1, "bottleneck": 4}


class ResNetEncoder(Encoder):
    """ResNet (He et al., "Deep Residual Learning for Image Recognition", CVPR 2016), in the 3D
    form of Hara et al. ("Can Spatiotemporal 3D CNNs Retrace the History of 2D CNNs and
    ImageNet?", CVPR 2018) as implemented by `monai.networks.nets.ResNet`.

    The MONAI network is kept as the submodule `resnet`, so state-dict keys read like MONAI's
    (`resnet.conv1.weight`, `resnet.layer1.0.conv1.weight`, ...); its classifier is not built.
    `forward_features` returns the outputs of `layer1` ... `layer4`.

    With stem stride `t` and max pooling on (`m = 2`, off: `m = 1`) the maps have strides
    `(t m, 2 t m, 4 t m, 8 t m)` and channels `block_inplanes[i] * expansion` (expansion 1 for
    basic blocks, 4 for bottlenecks). The stem stride defaults to 2 (MONAI's default is 1): on
    CPU a stride-1 stem makes a 3D ResNet-18 about 7x slower at 96^3 for little gain.

    Args:
        spatial_dims: 2 or 3.
        in_channels: image channels.
        block: "basic" or "bottleneck".
        layers: residual blocks in each of the four stages.
        block_inplanes: base width of each stage.
        conv1_t_size: stem convolution kernel size.
        conv1_t_stride: stem convolution stride.
        no_max_pool: skip the stride-2 max pooling after the stem.
    """

    def __init__(
        self,
        spatial_dims: int = 3,
        in_channels: int = 1,
        block: str = "basic",
        layers: Sequence[int] = (2, 2, 2, 2),
        block_inplanes: Sequence[int] = (64, 128, 256, 512),
        conv1_t_size: int = 7,
        conv1_t_stride: int = 2,
        no_max_pool: bool = False,
    ) -> None:
        super().__init__()
        if spatial_dims not in (2, 3):
            raise ValueError(f"spatial_dims must be 2 or 3, got {spatial_dims}")
        if block not in BLOCK_EXPANSION:
            raise ValueError(f"block must be one of {sorted(BLOCK_EXPANSION)}, got {block!r}")
        if len(layers) != 4 or len(block_inplanes) != 4:
            raise ValueError(
                f"layers and block_inplanes need 4 entries, got {list(layers)} and "
                f"{list(block_inplanes)}"
            )
        self.resnet = ResNet(
            block=block,
            layers=list(layers),
            block_inplanes=list(block_inplanes),
            spatial_dims=spatial_dims,
            n_input_channels=in_channels,
            conv1_t_size=conv1_t_size,
            conv1_t_stride=conv1_t_stride,
            no_max_pool=no_max_pool,
            feed_forward=False,
        )
        stem_stride = conv1_t_stride * (1 if no_max_pool else 2)
        self.spatial_dims = spatial_dims
        self.in_channels = in_channels
        self.out_channels = tuple(width * BLOCK_EXPANSION[block] for width in block_inplanes)
        self.strides = tuple(stem_stride * 2**stage for stage in range(4))
        self.min_input_multiple = self.strides[-1]
        self.config = {
            "name": "resnet18",
            "spatial_dims": spatial_dims,
            "in_channels": in_channels,
            "block": block,
            "layers": tuple(layers),
            "block_inplanes": tuple(block_inplanes),
            "conv1_t_size": conv1_t_size,
            "conv1_t_stride": conv1_t_stride,
            "no_max_pool": no_max_pool,
        }

    def forward_features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """`(B, in_channels, *S)` -> 4 maps `(B, out_channels[i], *S / strides[i])`."""
        net = self.resnet
        x = net.act(net.bn1(net.conv1(x)))
        if not net.no_max_pool:
            x = net.maxpool(x)
        features = []
        for stage in (net.layer1, net.layer2, net.layer3, net.layer4):
            x = stage(x)
            features.append(x)
        return features
