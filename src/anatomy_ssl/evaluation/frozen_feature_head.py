"""`FrozenFeatureHead`: a frozen encoder with a 1x1-conv head over its multi-scale features.

The frozen-encoder variant of few-shot segmentation (protocol 1 in docs/architecture.md): only a
linear per-voxel classifier is trained, so the score measures what the representation itself
encodes, as linear probing does for classification (He et al., "Masked Autoencoders Are Scalable
Vision Learners", CVPR 2022, whose probe also normalizes features without affine parameters
first).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from monai.networks.layers.factories import Conv
from torch import nn
from torch.nn import functional

from anatomy_ssl.models import Encoder


def deep_scales(encoder: Encoder) -> tuple[int, ...]:
    """The maps the "frozen_deep" probe (and the knn probe) read: every map but the finest (all
    maps for a one-map encoder)."""
    count = len(encoder.out_channels)
    return tuple(range(1, count)) if count > 1 else (0,)


class LinearMapHead(nn.Module):
    """One linear layer over chosen multi-scale feature maps, as segmentation logits.

    Conceptually, every map is upsampled (linearly) to the input size, the maps are concatenated
    to `sum(out_channels)` channels, and a 1x1 conv gives `num_classes` logits. Upsampling and a
    1x1 conv are both linear, so this equals a 1x1 conv per map at its own resolution, upsampled
    and summed; that form is computed here, keeping memory at `num_classes` full-resolution
    channels instead of `sum(out_channels)` (1488 for a Swin encoder).

    Args:
        out_channels: channels of each of the encoder's maps, finest first.
        spatial_dims: 2 or 3.
        num_classes: output channels (background included).
        normalize_features: batch-normalize each map (no affine parameters) before its 1x1 conv,
            so maps of different scales start on an equal footing.
        levels: indices of the maps the head reads (finest = 0, negative from the coarsest;
            default all).
    """

    def __init__(
        self,
        out_channels: Sequence[int],
        spatial_dims: int,
        num_classes: int,
        *,
        normalize_features: bool = True,
        levels: Sequence[int] | None = None,
    ) -> None:
        super().__init__()
        if num_classes < 1:
            raise ValueError(f"num_classes must be positive, got {num_classes}")
        if not out_channels:
            raise ValueError("the encoder declares no feature maps (empty out_channels)")
        count = len(out_channels)
        chosen = range(count) if levels is None else levels
        if not chosen or any(not -count <= level < count for level in chosen):
            raise ValueError(f"levels must index the encoder's {count} maps, got {list(chosen)}")
        self.levels = tuple(sorted({level % count for level in chosen}))
        widths = [out_channels[level] for level in self.levels]
        conv = Conv[Conv.CONV, spatial_dims]
        batch_norm = nn.BatchNorm3d if spatial_dims == 3 else nn.BatchNorm2d
        self.norms = nn.ModuleList(
            batch_norm(width, affine=False) if normalize_features else nn.Identity()
            for width in widths
        )
        # one bias in all: the sum of per-map biases would be redundant parameters
        self.projections = nn.ModuleList(
            conv(width, num_classes, kernel_size=1, bias=index == 0)
            for index, width in enumerate(widths)
        )
        self.spatial_dims = spatial_dims

    def forward(self, maps: Sequence[torch.Tensor], size: tuple[int, ...]) -> torch.Tensor:
        """Feature maps `(B, C_s, *S / stride_s)` per scale -> `(B, num_classes, *size)`."""
        mode = "trilinear" if self.spatial_dims == 3 else "bilinear"
        logits: torch.Tensor | None = None
        features = [maps[level] for level in self.levels]
        for feature, norm, projection in zip(features, self.norms, self.projections, strict=True):
            scale_logits = projection(norm(feature))  # (B, num_classes, *S / stride_s)
            if tuple(scale_logits.shape[2:]) != size:
                scale_logits = functional.interpolate(
                    scale_logits, size=size, mode=mode, align_corners=False
                )  # (B, num_classes, *S)
            logits = scale_logits if logits is None else logits + scale_logits
        if logits is None:
            raise ValueError("the encoder returned no feature maps")
        return logits


class FrozenFeatureHead(nn.Module):
    """Segmentation logits from a frozen encoder's feature maps through one linear layer
    (`LinearMapHead`).

    The encoder's parameters get `requires_grad = False`, it stays in eval mode whatever
    `train()` is called with (batch-norm statistics are not updated either), and its forward pass
    runs without autograd.

    Args:
        encoder: the backbone (used as is: deep-copy it first to keep the original untouched).
        num_classes: output channels (background included).
        normalize_features: see `LinearMapHead`.
        levels: indices of the maps the head reads (finest = 0, negative from the coarsest;
            default all). Leaving out the finest map (`levels=range(1, n)`) keeps a random
            network's bank of local intensity filters from carrying the score: what is left has
            to come from context.
    """

    def __init__(
        self,
        encoder: Encoder,
        num_classes: int,
        *,
        normalize_features: bool = True,
        levels: Sequence[int] | None = None,
    ) -> None:
        super().__init__()
        self.head = LinearMapHead(
            encoder.out_channels,
            encoder.spatial_dims,
            num_classes,
            normalize_features=normalize_features,
            levels=levels,
        )
        self.levels = self.head.levels
        self.encoder = encoder
        self.encoder.requires_grad_(False)
        self.encoder.eval()
        self.spatial_dims = encoder.spatial_dims

    def train(self, mode: bool = True) -> FrozenFeatureHead:
        """Set the head's mode; the encoder always stays in eval mode."""
        super().train(mode)
        self.encoder.eval()
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """`(B, in_channels, *S)` -> `(B, num_classes, *S)` logits."""
        if x.ndim != self.spatial_dims + 2:
            raise ValueError(
                f"expected a {self.spatial_dims + 2}D batch (B, C, *spatial), got shape "
                f"{tuple(x.shape)}"
            )
        with torch.no_grad():
            maps = self.encoder.forward_features(x)  # (B, C_s, *S / stride_s) per scale
        return self.head(maps, tuple(x.shape[2:]))
