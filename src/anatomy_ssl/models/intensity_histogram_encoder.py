"""A parameter-free control "encoder": the soft intensity histogram of its input.

Pooled over a patch, its embedding is the fraction of the patch's voxels in each intensity bin:
for CT lungs, the classical densitometric measure of emphysema (the low-attenuation area below
-950 HU) and more. Evaluated like any encoder in the patient-level probes it is a positive
control: if it predicts disease severity and an SSL encoder does not, the signal is in the
patches and the SSL embedding lost it. It has nothing to train; pretraining refuses it.
"""

from __future__ import annotations

import torch

from anatomy_ssl.models.encoder import Encoder


class IntensityHistogramEncoder(Encoder):
    """`(B, C, *spatial)` -> one map `(B, bins, *spatial)`: each voxel's soft (triangular)
    membership of `bins` evenly spaced intensity bins over [low, high] (channel 0 only, values
    clipped to the range); the memberships of a voxel sum to 1, so `forward_pooled` is the
    patch's intensity histogram as fractions of its voxels.

    Args:
        spatial_dims: 2 or 3.
        in_channels: input channels (only the first is read).
        bins: number of bin centres, the embedding width (>= 2).
        low, high: the intensity range of the bin centres (the cache's normalized units: CT is
            [0, 1] over the -1000..1000 HU window, so the defaults' 32 bins are 62.5 HU apart).
    """

    trainable = False
    centres: torch.Tensor  # (bins,) bin centres, a non-persistent buffer

    def __init__(
        self,
        spatial_dims: int = 3,
        in_channels: int = 1,
        bins: int = 32,
        low: float = 0.0,
        high: float = 1.0,
    ) -> None:
        super().__init__()
        if bins < 2:
            raise ValueError(f"bins must be >= 2, got {bins}")
        if not high > low:
            raise ValueError(f"high ({high}) must be above low ({low})")
        self.spatial_dims = spatial_dims
        self.in_channels = in_channels
        self.out_channels = (bins,)
        self.strides = (1,)
        self.min_input_multiple = 1
        self.config = {
            "name": "intensity_histogram",
            "spatial_dims": spatial_dims,
            "in_channels": in_channels,
            "bins": bins,
            "low": low,
            "high": high,
        }
        self.register_buffer("centres", torch.linspace(low, high, bins), persistent=False)
        self.width = (high - low) / (bins - 1)
        self.low, self.high = low, high

    def forward_features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """`(B, C, *S)` -> `[(B, bins, *S)]` triangular memberships summing to 1 per voxel."""
        values = x[:, :1].clamp(self.low, self.high)  # (B, 1, *S)
        shape = (1, -1) + (1,) * self.spatial_dims
        distance = (values - self.centres.view(shape)).abs() / self.width  # (B, bins, *S)
        return [(1.0 - distance).clamp_min(0.0)]
