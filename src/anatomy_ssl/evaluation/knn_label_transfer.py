"""The "knn" few-shot mode: label transfer by nearest neighbours in a frozen encoder's deep maps.

Nothing is trained, so the score reads the representation alone. Every cell of a test volume's
dense embedding takes the mean class fractions of its `neighbours` most cosine-similar cells
among the k labelled training volumes. The embedding is `extract_dense_features` over every map
but the finest (the maps the "frozen_deep" probe reads), resampled to the finest of their
strides of at least 4 voxels and L2-normalised per map. The class-fraction maps are upsampled
(bi/trilinearly, cell centres at block centres) to voxels and the argmax is scored by Dice. A
random network's deep cells carry a blurred intensity, so an intensity look-alike is matched to
a look-alike; an encoder that knows the anatomy matches a cell to the same structure in another
subject. This follows the label-propagation probes of dense SSL evaluations (Jabri et al.,
"Space-Time Correspondence as a Contrastive Random Walk", NeurIPS 2020; Balazevic et al.,
"Towards In-context Scene Understanding", NeurIPS 2023), at the scale of a few labelled volumes.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from anatomy_ssl.embedding.dense_feature_extraction import extract_dense_features
from anatomy_ssl.evaluation.frozen_feature_head import deep_scales
from anatomy_ssl.evaluation.segmentation_scoring import dice_per_structure
from anatomy_ssl.models import Encoder
from anatomy_ssl.preprocess import CachedVolume

DEFAULT_NEIGHBOURS = 10
MAX_REFERENCE_CELLS = 60_000  # bounds memory and time at k = 5 on 3D volumes
#: Cells are at least this many voxels per axis: a stride-2 grid of a 3D volume has 8 times the
#: cells of a stride-4 one and 64 times the similarities, for labels the deep maps do not resolve.
MIN_GRID_STRIDE_VOX = 4
_QUERY_CHUNK = 4096


@dataclass(frozen=True)
class KnnTransferResult:
    """Dice of one k-subset's label transfer on the test volumes.

    Attributes:
        dice_per_volume: `(V, num_classes - 1)`; NaN for structures absent from a volume.
        seconds: wall time of embedding and matching.
        reference_cells: labelled cells matched against (after subsampling).
    """

    dice_per_volume: np.ndarray
    seconds: float
    reference_cells: int


def grid_stride(encoder: Encoder, scales: Sequence[int]) -> int:
    """Cell size of the transfer: the finest chosen stride of at least `MIN_GRID_STRIDE_VOX`
    voxels (the coarsest chosen stride when none is that large)."""
    strides = sorted(encoder.strides[scale] for scale in scales)
    return next((s for s in strides if s >= MIN_GRID_STRIDE_VOX), strides[-1])


def knn_label_transfer(
    encoder: Encoder,
    train_volumes: Sequence[CachedVolume],
    test_volumes: Sequence[CachedVolume],
    *,
    num_classes: int,
    tile_vox: int | Sequence[int],
    neighbours: int = DEFAULT_NEIGHBOURS,
    max_reference_cells: int = MAX_REFERENCE_CELLS,
    seed: int = 0,
    device: str | torch.device = "cpu",
) -> KnnTransferResult:
    """Segment each test volume from the labelled cells of `train_volumes` and score it.

    Args:
        encoder: the frozen encoder (not modified).
        train_volumes: the k labelled volumes.
        test_volumes: labelled volumes to score.
        num_classes: classes including background.
        tile_vox: inference tile side(s), a multiple of the encoder's `min_input_multiple`.
        neighbours: cells voting for each test cell.
        max_reference_cells: reference cells kept at most (a seeded random subset beyond).
        seed: seeds that subset.
        device: where the encoder runs and the similarities are computed.

    Returns:
        `KnnTransferResult`.
    """
    if neighbours < 1:
        raise ValueError(f"neighbours must be >= 1, got {neighbours}")
    if not train_volumes or not test_volumes:
        raise ValueError("knn label transfer needs labelled train and test volumes")
    started = time.perf_counter()
    scales = deep_scales(encoder)
    stride = grid_stride(encoder, scales)
    features, fractions = [], []
    for volume in train_volumes:
        dense = extract_dense_features(
            encoder,
            volume,
            scales=scales,
            grid_stride_vox=stride,
            tile_vox=tile_vox,
            device=device,
        )
        features.append(dense.flat_features())  # (N, D)
        fractions.append(_cell_class_fractions(_label(volume), dense.grid_stride_vox, num_classes))
    reference = torch.cat(features)
    votes = torch.cat(fractions)  # (N, C)
    if len(reference) > max_reference_cells:
        generator = torch.Generator().manual_seed(seed)
        keep = torch.randperm(len(reference), generator=generator)[:max_reference_cells]
        reference, votes = reference[keep], votes[keep]
    reference, votes = reference.to(device), votes.to(device)
    rows = []
    for volume in test_volumes:
        dense = extract_dense_features(
            encoder,
            volume,
            scales=scales,
            grid_stride_vox=stride,
            tile_vox=tile_vox,
            device=device,
        )
        queries = dense.flat_features().to(device)  # (M, D)
        cell_fractions = torch.cat(
            [
                _vote(chunk, reference, votes, neighbours)
                for chunk in torch.split(queries, _QUERY_CHUNK)
            ]
        )  # (M, C)
        grid = cell_fractions.T.reshape(num_classes, *dense.grid_size)
        prediction = _upsample_argmax(grid, dense.grid_stride_vox, volume.size_vox)
        rows.append(dice_per_structure(prediction, _label(volume), num_classes=num_classes))
    return KnnTransferResult(
        dice_per_volume=np.stack(rows),
        seconds=time.perf_counter() - started,
        reference_cells=len(reference),
    )


def _label(volume: CachedVolume) -> np.ndarray:
    label = volume.load_label()
    if label is None:
        raise ValueError(f"{volume!r} has no label map")
    return label[0]


def _cell_class_fractions(label: np.ndarray, stride: int, num_classes: int) -> torch.Tensor:
    """`(*S)` labels -> `(N, C)` share of each class in every `stride`-voxel block, in the grid's
    C order (`ceil(S / stride)` cells per axis; voxels past the edge are left out)."""
    labels = torch.as_tensor(label.astype(np.int64))
    one_hot = F.one_hot(labels, num_classes).movedim(-1, 0).float()[None]  # (1, C, *S)
    grid = [-(-size // stride) for size in label.shape]
    widths = _end_padding(label.shape, grid, stride)
    pool = F.avg_pool3d if label.ndim == 3 else F.avg_pool2d
    inside = pool(F.pad(torch.ones_like(one_hot[:, :1]), widths), stride)  # voxel share in cell
    totals = pool(F.pad(one_hot, widths), stride) / inside.clamp_min(1e-12)  # (1, C, *grid)
    return totals[0].flatten(1).T  # (N, C)


def _end_padding(shape: Sequence[int], grid: Sequence[int], stride: int) -> list[int]:
    """`F.pad` widths (last axis first) that pad each axis at its end up to `grid * stride`."""
    pairs: list[int] = []
    for size, cells in reversed(list(zip(shape, grid, strict=True))):
        pairs += [0, cells * stride - size]
    return pairs


def _vote(
    queries: torch.Tensor, reference: torch.Tensor, votes: torch.Tensor, neighbours: int
) -> torch.Tensor:
    """`(M, D)` unit queries -> `(M, C)` mean class fractions of their nearest reference cells."""
    similarity = queries @ reference.T  # (M, N) cosines
    nearest = similarity.topk(min(neighbours, len(reference)), dim=1).indices  # (M, n)
    return votes[nearest].mean(dim=1)


def _upsample_argmax(grid: torch.Tensor, stride: int, size: Sequence[int]) -> np.ndarray:
    """`(C, *grid)` class fractions of `stride`-voxel cells -> `(*size)` int64 label map.

    Interpolation with `align_corners=False` at `scale_factor = stride` puts each cell's value at
    its block centre, the geometry of `extract_dense_features`."""
    mode = "trilinear" if grid.ndim == 4 else "bilinear"
    dense = F.interpolate(grid[None].float(), scale_factor=stride, mode=mode, align_corners=False)
    crop = tuple(slice(0, side) for side in size)
    labels: np.ndarray = dense[0].argmax(dim=0)[crop].cpu().numpy()
    return labels
