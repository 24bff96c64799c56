"""Protocol 3a (docs/architecture.md): locality, the separability of landmark-patch embeddings.

A patch of fixed size centred on each landmark of each subject is embedded with
`forward_pooled`; embeddings of the same landmark from different subjects should lie together
and apart from other landmarks. Hosseinzadeh Taher et al. show this as t-SNE maps of landmark
patches ("Towards Foundation Models Learned from Anatomy in Medical Imaging via
Self-Supervision", MICCAI DART 2023; "Representing Part-Whole Hierarchies in Foundation Models
by Learning Localizability, Composability, and Decomposability from Anatomy via
Self-Supervision", CVPR 2024). Here it is scored with a leave-one-subject-out cosine kNN
classifier of landmark identity and the cosine silhouette. No training.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from numpy.typing import ArrayLike
from sklearn.metrics import silhouette_score

from anatomy_ssl.embedding.dense_feature_extraction import (
    check_encoder_matches,
    pooled_crop_embeddings,
)
from anatomy_ssl.evaluation.landmark_correspondence import subjects_landmarks
from anatomy_ssl.models import Encoder
from anatomy_ssl.preprocess import CachedVolume


@dataclass(frozen=True, eq=False)
class LandmarkPatchLocalityResult:
    """Embeddings of N landmark patches and how well they separate by landmark.

    Attributes:
        embeddings: `(N, D)` float32 pooled embeddings (not normalised), e.g. for a 2D map.
        label_index: `(N,)` index into `landmark_names` of each patch's landmark.
        subject_index: `(N,)` index into `subject_ids` of each patch's subject.
        predicted_index: `(N,)` landmark predicted by the leave-one-subject-out kNN.
        landmark_names: sorted landmark names.
        subject_ids: subjects in input order.
        patch_size_vox: `(len(subject_ids), S)` patch size used in each subject's volume.
        k: neighbours of the kNN vote.
        knn_accuracy: fraction of patches whose landmark the kNN predicts.
        silhouette: mean cosine silhouette of the landmark clusters, in [-1, 1].
    """

    embeddings: np.ndarray
    label_index: np.ndarray
    subject_index: np.ndarray
    predicted_index: np.ndarray
    landmark_names: tuple[str, ...]
    subject_ids: tuple[str, ...]
    patch_size_vox: np.ndarray
    k: int
    knn_accuracy: float
    silhouette: float

    @property
    def labels(self) -> list[str]:
        """`(N,)` landmark name of each patch."""
        return [self.landmark_names[i] for i in self.label_index]

    def per_landmark_accuracy(self) -> dict[str, float]:
        """Landmark name -> kNN accuracy over its patches."""
        correct = self.predicted_index == self.label_index
        return {
            name: float(correct[self.label_index == index].mean())
            for index, name in enumerate(self.landmark_names)
            if np.any(self.label_index == index)
        }

    def metrics(self) -> dict[str, float]:
        """Flat JSON-ready summary: `knn_accuracy`, `silhouette`, `num_patches`,
        `num_landmarks`."""
        return {
            "knn_accuracy": self.knn_accuracy,
            "silhouette": self.silhouette,
            "num_patches": float(len(self.label_index)),
            "num_landmarks": float(len(self.landmark_names)),
        }


def evaluate_landmark_patch_locality(
    encoder: Encoder,
    volumes: Sequence[CachedVolume],
    landmarks: Mapping[str, Mapping[str, ArrayLike]],
    *,
    patch_vox: int | Sequence[int] | None = None,
    patch_mm: float | Sequence[float] | None = None,
    k: int = 5,
    batch_size: int = 16,
    seed: int = 0,
    device: str | torch.device = "cpu",
) -> LandmarkPatchLocalityResult:
    """Embed a patch at every landmark of every subject and score landmark separability.

    Patches are read with `CachedVolume.crops_at_mm` (centred on the landmark's nearest voxel,
    padded with the background where they leave the volume). Give the size either in voxels
    (`patch_vox`, used as is in every volume: it must be a multiple of the encoder's
    `min_input_multiple`) or in mm (`patch_mm`: converted per volume with its spacing and
    rounded to the nearest such multiple, at least one multiple).

    kNN: cosine similarity, neighbours only from other subjects, majority vote of the `k` most
    similar (fewer if other subjects hold fewer patches), vote ties going to the label of the
    nearest tied neighbour; similarity ties are broken at random (seeded), so constant
    embeddings score chance (about 1 / number of landmarks), not a fixed label.

    Args:
        encoder: the encoder under test.
        volumes: at least two cache entries (distinct subjects).
        landmarks: subject id -> landmark name -> `(S,)` world mm.
        patch_vox: patch side(s) in voxels, or None when `patch_mm` is given.
        patch_mm: patch side(s) in mm, or None when `patch_vox` is given.
        k: neighbours of the kNN vote.
        batch_size: patches per forward pass.
        seed: seeds the tie-breaking.
        device: where the encoder runs.

    Returns:
        A `LandmarkPatchLocalityResult`.

    Raises:
        ValueError: fewer than two subjects or two landmark names, both or neither of
            `patch_vox` / `patch_mm`, a bad patch size, bad landmarks, mismatched spatial dims.
    """
    if len(volumes) < 2:
        raise ValueError(f"locality needs at least two subjects, got {len(volumes)}")
    if (patch_vox is None) == (patch_mm is None):
        raise ValueError("give exactly one of patch_vox and patch_mm")
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    per_subject = subjects_landmarks(volumes, landmarks)
    names = tuple(sorted({name for subject_names, _ in per_subject for name in subject_names}))
    if len(names) < 2:
        raise ValueError(f"locality needs at least two landmark names, got {list(names)}")
    index_of = {name: i for i, name in enumerate(names)}
    embeddings, labels, subjects, sizes = [], [], [], []
    for subject, (volume, (subject_names, points)) in enumerate(
        zip(volumes, per_subject, strict=True)
    ):
        check_encoder_matches(encoder, volume)
        size = _patch_size(encoder, volume, patch_vox, patch_mm)
        crops = volume.crops_at_mm(points, size, with_label=False).image  # (L, C, *size)
        embeddings.append(
            pooled_crop_embeddings(encoder, crops, batch_size=batch_size, device=device).numpy()
        )
        labels.append(np.asarray([index_of[name] for name in subject_names]))
        subjects.append(np.full(len(subject_names), subject))
        sizes.append(size)
    matrix = np.concatenate(embeddings).astype(np.float32)  # (N, D)
    label_index = np.concatenate(labels).astype(np.int64)
    subject_index = np.concatenate(subjects).astype(np.int64)
    predicted = leave_one_subject_out_knn(
        matrix, label_index, subject_index, k=k, rng=np.random.default_rng(seed)
    )
    return LandmarkPatchLocalityResult(
        embeddings=matrix,
        label_index=label_index,
        subject_index=subject_index,
        predicted_index=predicted,
        landmark_names=names,
        subject_ids=tuple(volume.subject_id for volume in volumes),
        patch_size_vox=np.asarray(sizes, dtype=np.int64),
        k=k,
        knn_accuracy=float(np.mean(predicted == label_index)),
        silhouette=float(silhouette_score(matrix, label_index, metric="cosine")),
    )


def leave_one_subject_out_knn(
    embeddings: np.ndarray,
    labels: np.ndarray,
    groups: np.ndarray,
    *,
    k: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Cosine kNN label of each row, voting only among rows of other groups (subjects).

    Args:
        embeddings: `(N, D)`.
        labels: `(N,)` non-negative ints.
        groups: `(N,)` group of each row; a row's own group is never a neighbour.
        k: neighbours voting; capped at the fewest rows any row can use.
        rng: breaks similarity ties (an independent random order per row).

    Returns:
        `(N,)` predicted labels.
    """
    vectors = embeddings.astype(np.float64)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    unit = np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)
    similarity = unit @ unit.T  # (N, N)
    same_group = groups[:, None] == groups[None, :]
    usable = int((~same_group).sum(axis=1).min())
    if usable == 0:
        raise ValueError("every row needs at least one row of another group as a neighbour")
    k = min(k, usable)
    similarity[same_group] = -np.inf
    # Sort each row by similarity, ties in an independent random order per row.
    ranked = np.lexsort((rng.random(similarity.shape), -similarity), axis=1)
    neighbours = ranked[:, :k]  # (N, k), most similar first
    votes = np.eye(int(labels.max()) + 1, dtype=np.int64)[labels[neighbours]]  # (N, k, L)
    counts = votes.sum(axis=1)  # (N, L)
    first_rank = np.where(counts > 0, votes.argmax(axis=1), k)  # (N, L) rank of nearest voter
    return np.asarray(np.argmax(counts * (k + 1) - first_rank, axis=1), dtype=np.int64)


def _patch_size(
    encoder: Encoder,
    volume: CachedVolume,
    patch_vox: int | Sequence[int] | None,
    patch_mm: float | Sequence[float] | None,
) -> tuple[int, ...]:
    dims, multiple = volume.spatial_dims, max(encoder.min_input_multiple, 1)
    if patch_vox is not None:
        size = (int(patch_vox),) * dims if isinstance(patch_vox, int) else tuple(patch_vox)
        if len(size) != dims or any(s < 1 or s % multiple for s in size):
            raise ValueError(
                f"patch_vox {patch_vox} must be {dims} positive multiple(s) of the encoder's "
                f"min_input_multiple {multiple}"
            )
        return tuple(int(s) for s in size)
    assert patch_mm is not None
    extent = np.asarray(patch_mm, dtype=float).reshape(-1)
    if extent.size == 1:
        extent = np.repeat(extent, dims)
    if extent.shape != (dims,) or np.any(extent <= 0):
        raise ValueError(f"patch_mm must be one or {dims} positive sizes in mm, got {patch_mm}")
    cells = np.maximum(np.rint(extent / np.asarray(volume.spacing_mm) / multiple), 1)
    return tuple(int(c) * multiple for c in cells)
