"""Whole-volume dense embeddings from an encoder, and batched pooled embeddings of crops.

The dense embedding of a voxel follows SAM (Yan et al., "SAM: Self-supervised Learning of
Pixel-wise Anatomical Embeddings in Radiological Images", IEEE TMI 2022): a fine feature map
(local appearance) and the coarsest map (global context), each resampled to one common grid and
L2-normalised per cell, are concatenated, so that the cosine of two such vectors is the mean of
the per-scale cosines.

Geometry: a map of stride `s` is taken to sample the input at the centres of `s`-voxel blocks,
i.e. cell `i` lies at voxel `i * s + (s - 1) / 2` (exact for pooling and patch-embedding
backbones, within half a stride for strided convolutions).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from anatomy_ssl.embedding.volume_tiling import covering_tile_starts
from anatomy_ssl.models import Encoder
from anatomy_ssl.preprocess import CachedVolume


@dataclass(frozen=True, eq=False)
class DenseFeatures:
    """Dense embeddings of one volume on a regular grid of cells.

    Attributes:
        features: `(D, *grid)` float32 on the CPU. When `normalized`, each scale's channels are
            unit-norm per cell and the whole vector is divided by sqrt(number of scales), so
            every cell is a unit vector and a dot product is a cosine; otherwise they are the
            encoder's raw features (averaged where tiles overlap).
        grid_to_world: `(S + 1, S + 1)` matrix from grid cell index to RAS mm (cell centres).
            The grid is `ceil(size_vox / grid_stride_vox)`, so the last cell per axis may reach
            past the volume's edge (its outside part was read as background padding).
        grid_stride_vox: cell size in voxels (the same on every axis).
        scale_channels: channels of each scale's block in `features`, in order.
        scale_strides: encoder stride (voxels) of each scale's source map.
        normalized: whether `features` are normalised per scale (see above).
    """

    features: torch.Tensor
    grid_to_world: np.ndarray
    grid_stride_vox: int
    scale_channels: tuple[int, ...]
    scale_strides: tuple[int, ...]
    normalized: bool = True

    @property
    def spatial_dims(self) -> int:
        return self.features.ndim - 1

    @property
    def grid_size(self) -> tuple[int, ...]:
        return tuple(self.features.shape[1:])

    def flat_features(self) -> torch.Tensor:
        """`(N, D)` cell vectors in C order over the grid (N = prod(grid))."""
        return self.features.flatten(1).T

    def grid_points_mm(self) -> np.ndarray:
        """`(N, S)` RAS mm centre of every cell, in the order of `flat_features`."""
        axes = [np.arange(n, dtype=float) for n in self.grid_size]
        index = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, self.spatial_dims)
        return index @ self.grid_to_world[:-1, :-1].T + self.grid_to_world[:-1, -1]

    def world_to_grid(self, points_mm: np.ndarray) -> np.ndarray:
        """`(N, S)` RAS mm -> `(N, S)` continuous cell indices."""
        points = np.atleast_2d(np.asarray(points_mm, dtype=float))
        if points.shape[1] != self.spatial_dims:
            raise ValueError(
                f"points have {points.shape[1]} coordinates; this {self.spatial_dims}D grid "
                f"needs {self.spatial_dims}"
            )
        inverse = np.linalg.inv(self.grid_to_world)
        return points @ inverse[:-1, :-1].T + inverse[:-1, -1]

    def sample(self, points_mm: np.ndarray) -> torch.Tensor:
        """Embeddings at world points by (bi/tri)linear interpolation between cell centres
        (clamped at the grid border), each scale re-normalised as in `features` when
        `normalized`.

        Args:
            points_mm: `(N, S)` RAS mm.

        Returns:
            `(N, D)` float32 on the CPU (unit vectors when `normalized`).
        """
        index = torch.as_tensor(self.world_to_grid(points_mm), dtype=torch.float32)  # (N, S)
        size = torch.tensor(self.grid_size, dtype=torch.float32)
        # grid_sample with align_corners=True puts -1 / +1 on the first / last cell centres.
        normalised = torch.where(size > 1, 2 * index / (size - 1).clamp_min(1) - 1, 0.0)
        grid = normalised.flip(-1).reshape(
            1, -1, *([1] * (self.spatial_dims - 1)), self.spatial_dims
        )
        values = F.grid_sample(
            self.features[None], grid, mode="bilinear", padding_mode="border", align_corners=True
        )  # (1, D, N, 1[, 1])
        vectors = values.reshape(values.shape[1], -1).T  # (N, D)
        return normalise_scales(vectors, self.scale_channels) if self.normalized else vectors


def normalise_scales(vectors: torch.Tensor, scale_channels: Sequence[int]) -> torch.Tensor:
    """L2-normalise each scale's block of `(N, D)` vectors, then divide by sqrt(#scales)."""
    blocks = torch.split(vectors, list(scale_channels), dim=1)
    joined = torch.cat([F.normalize(block, dim=1) for block in blocks], dim=1)
    return joined / math.sqrt(len(scale_channels))


def check_encoder_matches(encoder: Encoder, volume: CachedVolume) -> None:
    """Raise ValueError if the encoder's spatial dims differ from the volume's."""
    if encoder.spatial_dims != volume.spatial_dims:
        raise ValueError(
            f"spatial dims do not match: the encoder is {encoder.spatial_dims}D but volume "
            f"{volume.subject_id!r} is {volume.spatial_dims}D (size_vox {volume.size_vox})"
        )


def extract_dense_features(
    encoder: Encoder,
    volume: CachedVolume,
    *,
    scales: Sequence[int] = (0, -1),
    grid_stride_vox: int | None = None,
    tile_vox: int | Sequence[int] = 64,
    batch_size: int = 2,
    normalize: bool = True,
    device: str | torch.device = "cpu",
) -> DenseFeatures:
    """Dense multi-scale embeddings of a whole volume, from batched tiles.

    Tiles of `tile_vox` start on multiples of the grid stride and cover the volume
    (`covering_tile_starts` in cell units: the last tile per axis is moved back to the border, an
    axis shorter than a tile gets one centred tile padded with the background). Each tile's maps
    of the chosen scales are resampled to the grid stride (average pooling from finer maps,
    (bi/tri)linear interpolation with `align_corners=False` from coarser ones, which keeps the
    block-centre geometry of the module docstring), normalised per scale and cell, and
    averaged where tiles overlap.

    Memory is `D * prod(size_vox / grid_stride_vox) * 4` bytes on `device`; raise the grid
    stride for large volumes.

    Args:
        encoder: the encoder (put in eval mode for the call, then restored).
        volume: a cache entry with `encoder.in_channels` channels.
        scales: indices into `encoder.forward_features(x)` (negative allowed), e.g. `(0, -1)`
            for the finest and the coarsest map (SAM's fine + coarse embedding).
        grid_stride_vox: output cell size in voxels; default the finest chosen stride. Every
            chosen stride must divide it or be a multiple of it.
        tile_vox: tile side(s) in voxels; multiples of the encoder's `min_input_multiple`, the
            grid stride and every chosen stride.
        batch_size: tiles per forward pass.
        normalize: normalise per scale and cell (for cosine matching); False keeps the raw
            features, e.g. to average them into a pooled embedding.
        device: where the encoder runs.

    Returns:
        `DenseFeatures` with grid `ceil(size_vox / grid_stride_vox)`.

    Raises:
        ValueError: mismatched spatial dims or channels, a bad scale index, incompatible strides
            or a tile size that is not a valid multiple.
    """
    check_encoder_matches(encoder, volume)
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    dims = volume.spatial_dims
    chosen = _scale_indices(encoder, scales)
    strides = tuple(encoder.strides[i] for i in chosen)
    stride = min(strides) if grid_stride_vox is None else int(grid_stride_vox)
    if stride < 1:
        raise ValueError(f"grid_stride_vox must be >= 1, got {stride}")
    for scale_stride in strides:
        if max(scale_stride, stride) % min(scale_stride, stride):
            raise ValueError(
                f"encoder stride {scale_stride} and grid stride {stride} must divide one another"
            )
    tile = _as_sizes(tile_vox, dims, "tile_vox")
    multiple = math.lcm(max(encoder.min_input_multiple, 1), stride, *strides)
    if any(side % multiple for side in tile):
        raise ValueError(
            f"tile_vox {tile} must be a multiple of {multiple} (the encoder's "
            f"min_input_multiple {encoder.min_input_multiple}, grid stride {stride} and map "
            f"strides {strides})"
        )
    grid = tuple(-(-size // stride) for size in volume.size_vox)
    tile_cells = tuple(side // stride for side in tile)
    starts_cells = covering_tile_starts(grid, tile_cells)  # (T, S)
    channels = tuple(encoder.out_channels[i] for i in chosen)
    total = torch.zeros((sum(channels), *grid), device=device)
    count = torch.zeros((1, *grid), device=device)
    with evaluation_mode(encoder):
        for first in range(0, len(starts_cells), batch_size):
            corners = starts_cells[first : first + batch_size]  # (b, S) in cells
            images = _tile_images(encoder, volume, corners * stride, tile, device)
            maps = encoder.forward_features(images)
            blocks = [
                _to_grid(maps[i].float(), source, stride, tile_cells, encoder)
                for i, source in zip(chosen, strides, strict=True)
            ]
            if normalize:
                blocks = [F.normalize(block, dim=1) for block in blocks]
            tile_features = torch.cat(blocks, dim=1)
            _accumulate(total, count, tile_features, corners)
    mean = total / count.clamp_min(1)  # (D, *grid)
    if normalize:
        mean = normalise_scales(mean.flatten(1).T, channels).T.reshape(-1, *grid)  # (D, *grid)
    features = mean.cpu().contiguous()
    to_voxel = np.eye(dims + 1)
    to_voxel[:dims, :dims] *= stride
    to_voxel[:dims, dims] = (stride - 1) / 2
    return DenseFeatures(
        features=features,
        grid_to_world=volume.affine @ to_voxel,
        grid_stride_vox=stride,
        scale_channels=channels,
        scale_strides=strides,
        normalized=normalize,
    )


def pooled_crop_embeddings(
    encoder: Encoder,
    crops: np.ndarray | torch.Tensor,
    *,
    batch_size: int = 16,
    device: str | torch.device = "cpu",
) -> torch.Tensor:
    """`forward_pooled` over `(N, C, *size)` crops in batches of `batch_size`.

    Returns:
        `(N, embed_dim)` float32 on the CPU (not normalised).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    images = torch.as_tensor(crops)
    if images.ndim != encoder.spatial_dims + 2:
        raise ValueError(
            f"crops must be (N, C, *size) with {encoder.spatial_dims} spatial axes for this "
            f"encoder; got shape {tuple(images.shape)}"
        )
    if images.shape[1] != encoder.in_channels:
        raise ValueError(
            f"crops have {images.shape[1]} channels; the encoder takes {encoder.in_channels}"
        )
    outputs = []
    with evaluation_mode(encoder):
        for first in range(0, len(images), batch_size):
            batch = images[first : first + batch_size].to(device=device, dtype=torch.float32)
            outputs.append(encoder.forward_pooled(batch).float().cpu())
    if not outputs:
        return torch.zeros((0, encoder.embed_dim))
    return torch.cat(outputs)


@contextmanager
def evaluation_mode(encoder: Encoder) -> Iterator[None]:
    """Eval mode and inference mode for the block; the encoder's previous mode is restored."""
    was_training = encoder.training
    encoder.eval()
    try:
        with torch.inference_mode():
            yield
    finally:
        encoder.train(was_training)


def _scale_indices(encoder: Encoder, scales: Sequence[int]) -> list[int]:
    count = len(encoder.strides)
    if not scales:
        raise ValueError("scales must name at least one feature map")
    chosen = []
    for scale in scales:
        if not -count <= scale < count:
            raise ValueError(
                f"scale index {scale} out of range: the encoder has {count} maps "
                f"(strides {encoder.strides})"
            )
        chosen.append(scale % count)
    if len(set(chosen)) != len(chosen):
        raise ValueError(f"scales {tuple(scales)} name the same map twice")
    return chosen


def _as_sizes(value: int | Sequence[int], dims: int, name: str) -> tuple[int, ...]:
    sizes = (int(value),) * dims if isinstance(value, int) else tuple(int(v) for v in value)
    if len(sizes) != dims or min(sizes) < 1:
        raise ValueError(f"{name} must be a positive int or {dims} positive ints, got {value}")
    return sizes


def _tile_images(
    encoder: Encoder,
    volume: CachedVolume,
    starts_vox: np.ndarray,
    tile: tuple[int, ...],
    device: str | torch.device,
) -> torch.Tensor:
    crops = volume.crops(starts_vox, tile, with_label=False).image  # (b, C, *tile)
    if crops.shape[1] != encoder.in_channels:
        raise ValueError(
            f"volume {volume.subject_id!r} has {crops.shape[1]} channels; the encoder takes "
            f"{encoder.in_channels}"
        )
    return torch.from_numpy(np.ascontiguousarray(crops, dtype=np.float32)).to(device)


def _to_grid(
    feature_map: torch.Tensor,
    source_stride: int,
    stride: int,
    tile_cells: tuple[int, ...],
    encoder: Encoder,
) -> torch.Tensor:
    """`(b, C, *tile / source_stride)` -> `(b, C, *tile_cells)` at the grid stride."""
    expected = tuple(cells * stride // source_stride for cells in tile_cells)
    if tuple(feature_map.shape[2:]) != expected:
        raise ValueError(
            f"encoder {type(encoder).__name__} returned a map of "
            f"spatial size {tuple(feature_map.shape[2:])} at stride {source_stride}; expected "
            f"{expected}"
        )
    if source_stride < stride:
        pool = F.avg_pool3d if feature_map.ndim == 5 else F.avg_pool2d
        return pool(feature_map, stride // source_stride)
    if source_stride > stride:
        mode = "trilinear" if feature_map.ndim == 5 else "bilinear"
        return F.interpolate(feature_map, size=tile_cells, mode=mode, align_corners=False)
    return feature_map


def _accumulate(
    total: torch.Tensor, count: torch.Tensor, tiles: torch.Tensor, corners: np.ndarray
) -> None:
    """Add each `(D, *tile_cells)` tile at its corner cell, clipped to the grid."""
    grid = total.shape[1:]
    for tile_features, corner in zip(tiles, corners, strict=True):
        target, source = [], []
        for first, cells, limit in zip(corner, tile_features.shape[1:], grid, strict=True):
            low, high = max(int(first), 0), min(int(first) + cells, limit)
            target.append(slice(low, high))
            source.append(slice(low - int(first), high - int(first)))
        total[(slice(None), *target)] += tile_features[(slice(None), *source)]
        count[(slice(None), *target)] += 1
