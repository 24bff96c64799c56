"""Per-volume embeddings (and optional dense feature maps) from an encoder, over whole volumes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from anatomy_ssl.embedding.dense_feature_extraction import extract_dense_features
from anatomy_ssl.models import Encoder
from anatomy_ssl.preprocess import CachedVolume


@dataclass(frozen=True)
class VolumeEmbedding:
    """Encoder output for one cached volume.

    Attributes:
        embedding: `(D,)` mean of the coarsest feature map over the volume, each cell once.
        dense: `(D, *grid)` coarsest features stitched over the volume (grid = size / stride,
            rounded up; overlapping tiles averaged), or None.
    """

    embedding: np.ndarray
    dense: np.ndarray | None


def embed_volume(
    encoder: Encoder,
    volume: CachedVolume,
    *,
    tile_vox: int,
    batch_size: int = 4,
    dense: bool = False,
    device: str | torch.device = "cpu",
) -> VolumeEmbedding:
    """Run `encoder` over tiles covering `volume` (batched) and pool its coarsest map.

    The coarsest map is stitched over the whole volume first (tiles start on multiples of its
    stride, so cells line up across tiles), then averaged: unlike a mean over tiles, this
    counts every cell once however the tiles overlap.

    Args:
        encoder: the encoder (evaluated in eval mode; its mode is restored).
        volume: a cache entry.
        tile_vox: tile side in voxels (a multiple of the encoder's `min_input_multiple` and of
            its coarsest stride).
        batch_size: tiles per forward pass.
        dense: also return the stitched coarsest feature map.
        device: where to run.
    """
    stitched = extract_dense_features(
        encoder,
        volume,
        scales=(-1,),
        grid_stride_vox=encoder.strides[-1],
        tile_vox=tile_vox,
        batch_size=batch_size,
        normalize=False,
        device=device,
    ).features.numpy()  # (D, *grid)
    embedding = stitched.reshape(len(stitched), -1).mean(axis=1, dtype=np.float64)
    return VolumeEmbedding(
        embedding=embedding.astype(np.float32), dense=stitched if dense else None
    )
