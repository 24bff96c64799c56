"""Per-volume embeddings (and optional dense feature maps) from an encoder, over whole volumes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from anatomy_ssl.embedding.volume_tiling import covering_tile_starts
from anatomy_ssl.models import Encoder
from anatomy_ssl.preprocess import CachedVolume


@dataclass(frozen=True)
class VolumeEmbedding:
    """Encoder output for one cached volume.

    Attributes:
        embedding: `(D,)` mean of the coarsest feature map over every tile.
        dense: `(D, *grid)` coarsest features stitched over the volume (grid = size / stride,
            rounded up), or None.
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
    """Run `encoder` over tiles covering `volume` (batched) and pool.

    Args:
        encoder: in eval mode, on `device`.
        volume: a cache entry.
        tile_vox: tile side in voxels (a multiple of the encoder's `min_input_multiple`).
        batch_size: tiles per forward pass.
        dense: also return the stitched coarsest feature map.
        device: where to run.
    """
    multiple = max(encoder.min_input_multiple, 1)
    if tile_vox % multiple:
        raise ValueError(f"tile size {tile_vox} must be a multiple of {multiple} for this encoder")
    tile = (tile_vox,) * volume.spatial_dims
    starts = covering_tile_starts(volume.size_vox, tile)  # (T, S)
    stride = encoder.strides[-1]
    grid = tuple(-(-size // stride) for size in volume.size_vox)
    dense_map = np.zeros((encoder.embed_dim, *grid), dtype=np.float32) if dense else None
    total = np.zeros(encoder.embed_dim, dtype=np.float64)
    count = 0
    with torch.inference_mode():
        for first in range(0, len(starts), batch_size):
            chunk = starts[first : first + batch_size]
            crops = volume.crops(chunk, tile, with_label=False).image  # (b, C, *tile)
            images = torch.from_numpy(np.ascontiguousarray(crops, dtype=np.float32)).to(device)
            features = encoder.forward_features(images)[-1].float().cpu().numpy()  # (b, D, *g)
            total += features.sum(axis=tuple(range(2, features.ndim))).sum(axis=0)
            count += features[0, 0].size * len(features)
            if dense_map is not None:
                _paste(dense_map, features, chunk // stride)
    return VolumeEmbedding(embedding=(total / count).astype(np.float32), dense=dense_map)


def _paste(dense_map: np.ndarray, features: np.ndarray, corners: np.ndarray) -> None:
    """Write each tile's `(D, *g)` features at its grid corner (clipped at the far border)."""
    for tile_features, corner in zip(features, corners, strict=True):
        corner = np.maximum(corner, 0)
        region = tuple(
            slice(int(c), min(int(c) + g, limit))
            for c, g, limit in zip(
                corner, tile_features.shape[1:], dense_map.shape[1:], strict=True
            )
        )
        extent = tuple(slice(0, r.stop - r.start) for r in region)
        dense_map[(slice(None), *region)] = tile_features[(slice(None), *extent)]
