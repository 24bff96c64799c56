"""Protocol 2 (docs/architecture.md): zero-shot anatomical correspondence by dense-embedding
matching.

For each landmark of a query volume, the cell of a target volume whose dense embedding is the
most similar (cosine) is taken as the match, refined to the most similar voxel within one cell
of it (`refine_to_voxels`); its position, in mm, is compared with the target's
true landmark. This is the landmark-matching test of SAM (Yan et al., "SAM: Self-supervised
Learning of Pixel-wise Anatomical Embeddings in Radiological Images", IEEE TMI 2022), here run
over every ordered pair of subjects. No training.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from numpy.typing import ArrayLike

from anatomy_ssl.correspondence import (
    EmbeddingMatcher,
    PointMatches,
    RegistrationMatcher,
    refine_to_voxels,
)
from anatomy_ssl.embedding.dense_feature_extraction import DenseFeatures, extract_dense_features
from anatomy_ssl.models import Encoder
from anatomy_ssl.preprocess import CachedVolume

#: Target cells scored per matrix product (bounds memory to Q x this many scores).
CELLS_PER_CHUNK = 1 << 16


@dataclass(frozen=True, eq=False)
class LandmarkCorrespondenceResult:
    """Every (query subject, target subject, landmark) match, P of them.

    Attributes:
        errors_mm: `(P,)` distance in mm from the matched cell centre to the true landmark.
        chance_errors_mm: `(P,)` expected error of a uniformly random target cell (the
            chance level for the same landmark and target).
        predicted_mm: `(P, S)` matched cell centre, world mm.
        true_mm: `(P, S)` the target's landmark, world mm.
        query_index: `(P,)` index into `subject_ids` of the query volume.
        target_index: `(P,)` index into `subject_ids` of the target volume.
        landmark_index: `(P,)` index into `landmark_names`.
        subject_ids: subjects in input order.
        landmark_names: sorted names of every landmark that was matched.
        radii_mm: radii of the `within_<r>mm` metrics.
        refused: matches a matcher refused (below its threshold, or a failed registration);
            they are not in the arrays above, and `acceptance_rate` reports their share.
    """

    errors_mm: np.ndarray
    chance_errors_mm: np.ndarray
    predicted_mm: np.ndarray
    true_mm: np.ndarray
    query_index: np.ndarray
    target_index: np.ndarray
    landmark_index: np.ndarray
    subject_ids: tuple[str, ...]
    landmark_names: tuple[str, ...]
    radii_mm: tuple[float, ...]
    refused: int = 0

    def within(self, radius_mm: float) -> float:
        """Fraction of matches with error <= `radius_mm`."""
        return float(np.mean(self.errors_mm <= radius_mm))

    def per_landmark_median_error_mm(self) -> dict[str, float]:
        """Landmark name -> median error (mm) over every ordered pair."""
        return {
            name: float(np.median(self.errors_mm[self.landmark_index == index]))
            for index, name in enumerate(self.landmark_names)
        }

    def metrics(self) -> dict[str, float]:
        """Flat JSON-ready summary: `median_error_mm`, `mean_error_mm`, `within_<r>mm` per
        radius, `chance_mean_error_mm`, `num_matches`, `num_pairs`, `acceptance_rate`."""
        pairs = np.unique(np.stack([self.query_index, self.target_index]), axis=1).shape[1]
        summary = {
            "median_error_mm": float(np.median(self.errors_mm)),
            "mean_error_mm": float(np.mean(self.errors_mm)),
        }
        summary.update({f"within_{r:g}mm": self.within(r) for r in self.radii_mm})
        summary["chance_mean_error_mm"] = float(np.mean(self.chance_errors_mm))
        summary["num_matches"] = float(len(self.errors_mm))
        summary["num_pairs"] = float(pairs)
        summary["acceptance_rate"] = len(self.errors_mm) / (len(self.errors_mm) + self.refused)
        return summary


def landmark_points(
    volume: CachedVolume, landmarks: Mapping[str, ArrayLike]
) -> tuple[tuple[str, ...], np.ndarray]:
    """Check one subject's landmarks against its volume.

    Args:
        volume: the subject's cache entry.
        landmarks: name -> `(S,)` world mm (RAS in 3D, the image plane in 2D).

    Returns:
        Sorted names and their `(L, S)` float64 points.

    Raises:
        ValueError: no landmarks, a point with the wrong number of coordinates or non-finite
            values, or a point outside the volume (more than half a voxel beyond its edge).
    """
    subject, dims = volume.subject_id, volume.spatial_dims
    if not landmarks:
        raise ValueError(f"subject {subject!r}: the landmark dict is empty")
    names = tuple(sorted(landmarks))
    points = []
    for name in names:
        point = np.asarray(landmarks[name], dtype=float)
        if point.shape != (dims,):
            raise ValueError(
                f"subject {subject!r}, landmark {name!r}: expected {dims} coordinates (mm) for "
                f"a {dims}D volume, got shape {point.shape}"
            )
        if not np.all(np.isfinite(point)):
            raise ValueError(f"subject {subject!r}, landmark {name!r}: non-finite point {point}")
        points.append(point)
    array = np.stack(points)  # (L, S)
    voxels = volume.world_to_voxel(array)
    outside = np.any((voxels < -0.5) | (voxels > np.asarray(volume.size_vox) - 0.5), axis=1)
    if outside.any():
        listing = ", ".join(
            f"{names[i]} at voxel {np.round(voxels[i], 1).tolist()}"
            for i in np.flatnonzero(outside)
        )
        raise ValueError(
            f"subject {subject!r}: landmark(s) outside the volume (size_vox {volume.size_vox}): "
            f"{listing}"
        )
    return names, array


def subjects_landmarks(
    volumes: Sequence[CachedVolume], landmarks: Mapping[str, Mapping[str, ArrayLike]]
) -> list[tuple[tuple[str, ...], np.ndarray]]:
    """`landmark_points` of every volume; `landmarks` is keyed by subject id.

    Raises:
        ValueError: duplicate subject ids, or a volume without landmarks.
    """
    ids = [volume.subject_id for volume in volumes]
    if len(set(ids)) != len(ids):
        raise ValueError(f"subject ids must be unique, got {ids}")
    missing = [subject for subject in ids if subject not in landmarks]
    if missing:
        raise ValueError(f"no landmarks for subject(s) {missing}")
    return [landmark_points(volume, landmarks[volume.subject_id]) for volume in volumes]


def match_to_cells(
    queries: torch.Tensor,
    target: DenseFeatures,
    *,
    tie_tolerance: float = 1e-6,
    generator: torch.Generator | None = None,
    device: str | torch.device = "cpu",
) -> np.ndarray:
    """Index of the most similar target cell for each query vector.

    Similarities are dot products (cosines for the unit vectors of `DenseFeatures`). Cells
    within `tie_tolerance` of the best count as tied and one of them is drawn uniformly at
    random (per query, reservoir-style across chunks of cells), so an uninformative (constant)
    encoder lands on a uniformly random cell rather than always on the first one.

    Args:
        queries: `(Q, D)` vectors.
        target: the target volume's dense features.
        tie_tolerance: similarity differences up to this count as ties.
        generator: CPU generator for the tie-breaking draws.
        device: where the products run.

    Returns:
        `(Q,)` int64 flat cell indices (C order over `target.grid_size`).
    """
    flat = target.flat_features()  # (N, D)
    query = queries.to(device=device, dtype=torch.float32)
    rows = len(query)
    best_value = torch.full((rows,), -torch.inf, device=device)
    best_index = torch.zeros(rows, dtype=torch.int64, device=device)
    best_count = torch.zeros(rows, dtype=torch.int64, device=device)
    for first in range(0, len(flat), CELLS_PER_CHUNK):
        block = flat[first : first + CELLS_PER_CHUNK].to(device)  # (n, D)
        similarity = query @ block.T  # (Q, n)
        value, pick = similarity.max(dim=1)
        tied = similarity >= (value - tie_tolerance)[:, None]  # (Q, n)
        count = tied.sum(dim=1)
        several = torch.nonzero(count > 1).flatten()
        if len(several):  # a uniform draw among the tied cells of these rows
            draws = torch.rand(len(several), len(block), generator=generator).to(device)
            pick[several] = torch.where(tied[several], draws, -1.0).argmax(dim=1)
        top = torch.maximum(best_value, value)
        old = torch.where(best_value >= top - tie_tolerance, best_count, 0)
        new = torch.where(value >= top - tie_tolerance, count, 0)
        take_new = torch.rand(rows, generator=generator).to(device) * (old + new) < new
        best_index = torch.where(take_new, pick + first, best_index)
        best_count, best_value = old + new, top
    return best_index.cpu().numpy()


def evaluate_landmark_correspondence(
    encoder: Encoder,
    volumes: Sequence[CachedVolume],
    landmarks: Mapping[str, Mapping[str, ArrayLike]],
    *,
    radii_mm: Sequence[float] = (5.0, 10.0, 20.0),
    scales: Sequence[int] = (0, -1),
    grid_stride_vox: int | None = None,
    tile_vox: int | Sequence[int] = 64,
    batch_size: int = 2,
    tie_tolerance: float = 1e-6,
    refine: bool = True,
    seed: int = 0,
    device: str | torch.device = "cpu",
) -> LandmarkCorrespondenceResult:
    """Match every landmark of every query volume into every other (target) volume.

    The query embedding of a landmark is the query's dense map interpolated at the landmark
    (`DenseFeatures.sample`); the match is the best target cell (`match_to_cells`), refined
    to the most similar voxel within one cell of it when `refine` (without it the
    error is at best the distance to the nearest cell centre, about half a cell). Landmarks
    missing from either volume of a pair are skipped. Dense maps of all volumes are held in
    memory at once (see `extract_dense_features` for their size).

    Args:
        encoder: the encoder under test.
        volumes: at least two cache entries (distinct subjects).
        landmarks: subject id -> landmark name -> `(S,)` world mm.
        radii_mm: radii of the `within_<r>mm` fractions.
        scales: feature maps to combine (see `extract_dense_features`).
        grid_stride_vox: cell size of the dense maps in voxels (default: finest chosen stride).
        tile_vox: tile side(s) for the dense maps.
        batch_size: tiles per forward pass.
        tie_tolerance: see `match_to_cells`.
        refine: refine each cell-level match to the voxel (`refine_to_voxels`).
        seed: seeds the tie-breaking draws.
        device: where the encoder runs.

    Returns:
        A `LandmarkCorrespondenceResult` over all ordered pairs (query != target).

    Raises:
        ValueError: fewer than two volumes, bad landmarks (see `landmark_points`), mismatched
            spatial dims, or no landmark shared by any pair.
    """
    if len(volumes) < 2:
        raise ValueError(f"correspondence needs at least two volumes, got {len(volumes)}")
    per_subject = subjects_landmarks(volumes, landmarks)
    all_names = tuple(sorted({name for names, _ in per_subject for name in names}))
    name_index = {name: i for i, name in enumerate(all_names)}
    dense = [
        extract_dense_features(
            encoder,
            volume,
            scales=scales,
            grid_stride_vox=grid_stride_vox,
            tile_vox=tile_vox,
            batch_size=batch_size,
            device=device,
        )
        for volume in volumes
    ]
    query_vectors = [d.sample(points) for d, (_, points) in zip(dense, per_subject, strict=True)]
    generator = torch.Generator().manual_seed(seed)
    parts: dict[str, list[np.ndarray]] = {key: [] for key in ("q", "t", "l", "pred", "true", "ch")}
    for target, (target_names, target_points) in enumerate(per_subject):
        position = {name: i for i, name in enumerate(target_names)}
        rows_q: list[np.ndarray] = []
        rows_vec: list[torch.Tensor] = []
        rows_t: list[int] = []
        for query, (query_names, _) in enumerate(per_subject):
            if query == target:
                continue
            shared = [i for i, name in enumerate(query_names) if name in position]
            rows_q.append(np.full(len(shared), query))
            rows_vec.append(query_vectors[query][shared])
            rows_t.extend(position[query_names[i]] for i in shared)
        target_rows = np.asarray(rows_t, dtype=np.int64)  # (Q,) index into target_points
        if len(target_rows) == 0:
            continue
        cells_mm = dense[target].grid_points_mm()  # (N, S)
        queries = torch.cat(rows_vec)  # (Q, D)
        best = match_to_cells(
            queries,
            dense[target],
            tie_tolerance=tie_tolerance,
            generator=generator,
            device=device,
        )
        predicted = cells_mm[best]  # (Q, S)
        if refine:
            predicted, _ = refine_to_voxels(queries, dense[target], predicted)
        chance = _mean_distance_to_cells(target_points, cells_mm)  # (L_t,)
        parts["q"].append(np.concatenate(rows_q))
        parts["t"].append(np.full(len(target_rows), target))
        parts["l"].append(np.asarray([name_index[target_names[i]] for i in target_rows]))
        parts["pred"].append(predicted)
        parts["true"].append(target_points[target_rows])
        parts["ch"].append(chance[target_rows])
    return _result(parts, volumes, all_names, radii_mm)


def evaluate_matcher_correspondence(
    matcher: EmbeddingMatcher | RegistrationMatcher,
    volumes: Sequence[CachedVolume],
    landmarks: Mapping[str, Mapping[str, ArrayLike]],
    *,
    radii_mm: Sequence[float] = (5.0, 10.0, 20.0),
    chance_stride_vox: int = 4,
) -> LandmarkCorrespondenceResult:
    """Match every landmark of every volume into every other with a point matcher (the
    coarse-to-fine embedding matcher or affine registration), over all ordered pairs.

    Refused matches (below the matcher's threshold, or a failed registration) leave the error
    arrays and are counted in `refused`. The chance error is the mean distance from the true
    landmark to a grid of target voxels (every `chance_stride_vox`-th voxel per axis).

    Raises:
        ValueError: fewer than two volumes, bad landmarks, or no landmark shared by any pair.
    """
    if len(volumes) < 2:
        raise ValueError(f"correspondence needs at least two volumes, got {len(volumes)}")
    per_subject = subjects_landmarks(volumes, landmarks)
    all_names = tuple(sorted({name for names, _ in per_subject for name in names}))
    name_index = {name: i for i, name in enumerate(all_names)}
    parts: dict[str, list[np.ndarray]] = {key: [] for key in ("q", "t", "l", "pred", "true", "ch")}
    refused = 0
    for target, (target_names, target_points) in enumerate(per_subject):
        position = {name: i for i, name in enumerate(target_names)}
        chance = _mean_distance_to_cells(
            target_points, _voxel_grid_mm(volumes[target], chance_stride_vox)
        )
        for query, (query_names, query_points) in enumerate(per_subject):
            shared = [i for i, name in enumerate(query_names) if name in position]
            if query == target or not shared:
                continue
            matches: PointMatches = matcher.match(
                volumes[query], query_points[shared], volumes[target]
            )
            rows = np.asarray([position[query_names[i]] for i in shared])[matches.accepted]
            refused += int((~matches.accepted).sum())
            parts["q"].append(np.full(len(rows), query))
            parts["t"].append(np.full(len(rows), target))
            parts["l"].append(np.asarray([name_index[target_names[i]] for i in rows], dtype=int))
            parts["pred"].append(matches.points_mm[matches.accepted])
            parts["true"].append(target_points[rows])
            parts["ch"].append(chance[rows])
    if parts["q"] and refused and not sum(len(q) for q in parts["q"]):
        raise ValueError(f"the matcher refused all {refused} landmark matches")
    return _result(parts, volumes, all_names, radii_mm, refused=refused)


def _result(
    parts: Mapping[str, list[np.ndarray]],
    volumes: Sequence[CachedVolume],
    landmark_names: tuple[str, ...],
    radii_mm: Sequence[float],
    *,
    refused: int = 0,
) -> LandmarkCorrespondenceResult:
    """The result from per-target pieces: "q", "t", "l" (query, target, landmark indices),
    "pred", "true" (`(n, S)` mm) and "ch" (chance errors).

    Raises:
        ValueError: no pieces (no landmark shared by any pair).
    """
    if not parts["q"]:
        raise ValueError("no landmark name is shared by any two subjects: nothing to match")
    predicted, true = np.concatenate(parts["pred"]), np.concatenate(parts["true"])
    return LandmarkCorrespondenceResult(
        errors_mm=np.linalg.norm(predicted - true, axis=1),
        chance_errors_mm=np.concatenate(parts["ch"]),
        predicted_mm=predicted,
        true_mm=true,
        query_index=np.concatenate(parts["q"]).astype(np.int64),
        target_index=np.concatenate(parts["t"]).astype(np.int64),
        landmark_index=np.concatenate(parts["l"]).astype(np.int64),
        subject_ids=tuple(volume.subject_id for volume in volumes),
        landmark_names=landmark_names,
        radii_mm=tuple(float(r) for r in radii_mm),
        refused=refused,
    )


def _voxel_grid_mm(volume: CachedVolume, stride: int) -> np.ndarray:
    """`(N, S)` world mm of every `stride`-th voxel of the volume per axis."""
    axes = [np.arange(0, n, stride, dtype=float) for n in volume.size_vox]
    index = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, len(axes))
    return volume.voxel_to_world(index)


def _mean_distance_to_cells(points_mm: np.ndarray, cells_mm: np.ndarray) -> np.ndarray:
    """`(L, S)` points, `(N, S)` cells -> `(L,)` mean Euclidean distance to the cells."""
    points = torch.as_tensor(points_mm, dtype=torch.float32)
    total = torch.zeros(len(points), dtype=torch.float64)
    for first in range(0, len(cells_mm), CELLS_PER_CHUNK):
        block = torch.as_tensor(cells_mm[first : first + CELLS_PER_CHUNK], dtype=torch.float32)
        distances = (points[:, None] - block[None]).norm(dim=2)  # (L, n)
        total += distances.sum(dim=1, dtype=torch.float64)
    return (total / len(cells_mm)).numpy()
