"""Protocol 3b (docs/architecture.md): compositionality, cos(embedding of a whole, mean of its
parts').

A whole is a box inside the body; its parts are its 2^S equal sub-boxes (8 octants in 3D, 4
quadrants in 2D). Hosseinzadeh Taher et al. report this cosine as the zero-shot test of
part-whole hierarchy ("Towards Foundation Models Learned from Anatomy in Medical Imaging via
Self-Supervision", MICCAI DART 2023: ~0.84; "Representing Part-Whole Hierarchies in Foundation
Models by Learning Localizability, Composability, and Decomposability from Anatomy via
Self-Supervision", CVPR 2024: ~0.9, against 0.45-0.6 for generic SSL baselines). No training.

How parts are presented to the encoder (`part_resampling`):

- False (default): each part is its own crop at the cache spacing, half the whole's size per
  axis (the whole's size is a multiple of twice the encoder's `min_input_multiple`, so no
  padding is needed). The encoder sees every voxel of a part exactly as it sees it inside the
  whole, at the physical scale it was trained at (the cache fixes the spacing of every training
  crop), so the score measures how the embedding composes context and nothing else: for an
  encoder whose features are a function of each voxel alone it is exactly 1.
- True: each part is resampled ((bi/tri)linear, `align_corners=False`) to the whole's size, as
  the authors' 2D code resizes every crop to the network input. This adds a 2x zoom, so it also
  tests scale invariance; use it to compare with the paper's numbers.

The raw cosine rewards anisotropy: pooled post-activation CNN embeddings share one dominant
direction, so a random or collapsed encoder already scores high (every pair of embeddings is
close). Two more scores take that out. The centred cosine subtracts the mean embedding of all
wholes and parts first. The other-whole cosine is the same centred cosine between a whole and
the parts of another whole (the next one in sampling order): what the centred score is
without any part-whole relation. Their difference, the specificity, is how much more a whole
resembles its own parts than another whole's; a part-whole hierarchy shows as a specificity
well above 0.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import ArrayLike

from anatomy_ssl.data.per_sample_crop import split_into_halves
from anatomy_ssl.embedding.dense_feature_extraction import (
    check_encoder_matches,
    pooled_crop_embeddings,
)
from anatomy_ssl.evaluation.landmark_correspondence import landmark_points
from anatomy_ssl.models import Encoder
from anatomy_ssl.preprocess import CachedVolume


@dataclass(frozen=True, eq=False)
class PartWholeCompositionalityResult:
    """N sampled wholes, their P = 2^S parts, and the part-whole cosines.

    Attributes:
        cosines: `(N,)` cos(whole embedding, mean of its parts' embeddings).
        centred_cosines: `(N,)` the same after subtracting the mean of all N + N * P
            embeddings.
        other_whole_cosines: `(N,)` centred cos(whole n, mean of whole n + 1's parts), cyclic;
            NaN when N = 1.
        whole_embeddings: `(N, D)` float32 pooled embeddings of the wholes.
        part_embeddings: `(N, P, D)` float32 pooled embeddings of the parts, parts in C order
            over the halves of each axis (part `p` has offset `bits(p) * whole_size / 2`).
        whole_start_vox: `(N, S)` first voxel of each whole in its volume.
        whole_size_vox: `(N, S)` size of each whole in voxels.
        subject_index: `(N,)` index into `subject_ids`.
        subject_ids: subjects in input order.
        part_resampling: whether parts were resampled to the whole's size.
    """

    cosines: np.ndarray
    centred_cosines: np.ndarray
    other_whole_cosines: np.ndarray
    whole_embeddings: np.ndarray
    part_embeddings: np.ndarray
    whole_start_vox: np.ndarray
    whole_size_vox: np.ndarray
    subject_index: np.ndarray
    subject_ids: tuple[str, ...]
    part_resampling: bool

    @property
    def specificity(self) -> np.ndarray:
        """`(N,)` centred cosine with its own parts minus that with another whole's parts."""
        return self.centred_cosines - self.other_whole_cosines

    def metrics(self) -> dict[str, float]:
        """Flat JSON-ready summary: `part_whole_cosine_mean`, `part_whole_cosine_std`,
        `part_whole_centred_cosine_mean`, `other_whole_centred_cosine_mean`,
        `part_whole_specificity_mean` (centred minus other-whole), `num_wholes`."""
        return {
            "part_whole_cosine_mean": float(np.mean(self.cosines)),
            "part_whole_cosine_std": float(np.std(self.cosines)),
            "part_whole_centred_cosine_mean": float(np.mean(self.centred_cosines)),
            "other_whole_centred_cosine_mean": float(np.mean(self.other_whole_cosines)),
            "part_whole_specificity_mean": float(np.mean(self.specificity)),
            "num_wholes": float(len(self.cosines)),
        }


def split_into_parts(wholes: torch.Tensor) -> torch.Tensor:
    """`(N, C, *W)` -> `(N * 2^S, C, *W / 2)`: each whole's 2^S equal sub-boxes, the parts of
    one whole consecutive and in C order over the halves of each axis (the sub-parts Eden
    trains on, `split_into_halves`, regrouped by whole)."""
    return torch.stack(split_into_halves(wholes), dim=1).flatten(0, 1)  # (N * P, C, *W / 2)


def evaluate_part_whole_compositionality(
    encoder: Encoder,
    volumes: Sequence[CachedVolume],
    *,
    whole_vox: int | Sequence[int] | None = None,
    whole_mm: float | Sequence[float] | None = None,
    wholes_per_volume: int = 8,
    landmarks: Mapping[str, Mapping[str, ArrayLike]] | None = None,
    part_resampling: bool = False,
    seed: int = 0,
    batch_size: int = 8,
    device: str | torch.device = "cpu",
) -> PartWholeCompositionalityResult:
    """Sample wholes in each volume and score cos(whole, mean of parts) (see module docstring).

    Wholes lie entirely inside the volume. Their centres are foreground voxels (image channel 0
    above the entry's background value) drawn uniformly at random, or, when `landmarks` is
    given, the landmarks of the subject (the box shifted inward where it would leave the
    volume). Give the whole's size in voxels (`whole_vox`: a multiple of twice the encoder's
    `min_input_multiple`) or in mm (`whole_mm`: converted with each volume's spacing and
    rounded to the nearest such multiple, at least one).

    Args:
        encoder: the encoder under test.
        volumes: cache entries.
        whole_vox: whole side(s) in voxels, or None when `whole_mm` is given.
        whole_mm: whole side(s) in mm, or None when `whole_vox` is given.
        wholes_per_volume: wholes per volume (a random subset of the landmarks when there are
            more; all of them when there are fewer).
        landmarks: optional subject id -> landmark name -> `(S,)` world mm, as centres.
        part_resampling: resample parts to the whole's size (see module docstring).
        seed: seeds the sampling of centres.
        batch_size: wholes per forward pass (parts: as many voxels per pass).
        device: where the encoder runs.

    Returns:
        A `PartWholeCompositionalityResult`.

    Raises:
        ValueError: no volumes, both or neither of `whole_vox` / `whole_mm`, a bad size or one
            larger than a volume, a volume without foreground, bad landmarks, mismatched dims.
    """
    if not volumes:
        raise ValueError("compositionality needs at least one volume")
    if (whole_vox is None) == (whole_mm is None):
        raise ValueError("give exactly one of whole_vox and whole_mm")
    if wholes_per_volume < 1 or batch_size < 1:
        raise ValueError(
            f"wholes_per_volume and batch_size must be >= 1, got {wholes_per_volume}, {batch_size}"
        )
    rng = np.random.default_rng(seed)
    collected: dict[str, list[np.ndarray]] = {k: [] for k in ("w", "p", "start", "size", "s")}
    for subject, volume in enumerate(volumes):
        check_encoder_matches(encoder, volume)
        size = _whole_size(encoder, volume, whole_vox, whole_mm)
        if landmarks is None:
            starts = _foreground_starts(volume, size, wholes_per_volume, rng)
        else:
            if volume.subject_id not in landmarks:
                raise ValueError(f"no landmarks for subject {volume.subject_id!r}")
            starts = _landmark_starts(volume, landmarks[volume.subject_id], size)
            if len(starts) > wholes_per_volume:
                starts = starts[np.sort(rng.choice(len(starts), wholes_per_volume, False))]
        crops = volume.crops(starts, size, with_label=False).image  # (N, C, *size)
        wholes, parts = _embed(encoder, crops, part_resampling, batch_size, device)
        collected["w"].append(wholes)
        collected["p"].append(parts)
        collected["start"].append(starts)
        collected["size"].append(np.tile(size, (len(starts), 1)))
        collected["s"].append(np.full(len(starts), subject))
    whole_embeddings = np.concatenate(collected["w"])  # (N, D)
    part_embeddings = np.concatenate(collected["p"])  # (N, P, D)
    aggregate = part_embeddings.astype(np.float64).mean(axis=1)  # (N, D)
    whole = whole_embeddings.astype(np.float64)
    every = np.concatenate([whole, part_embeddings.reshape(-1, whole.shape[1])])  # (N + NP, D)
    mean = every.mean(axis=0)  # (D,)
    centred_aggregate = aggregate - mean
    other = (
        _row_cosines(whole - mean, np.roll(centred_aggregate, -1, axis=0))
        if len(whole) > 1
        else np.full(1, np.nan)
    )
    return PartWholeCompositionalityResult(
        cosines=_row_cosines(whole, aggregate),
        centred_cosines=_row_cosines(whole - mean, centred_aggregate),
        other_whole_cosines=other,
        whole_embeddings=whole_embeddings,
        part_embeddings=part_embeddings,
        whole_start_vox=np.concatenate(collected["start"]).astype(np.int64),
        whole_size_vox=np.concatenate(collected["size"]).astype(np.int64),
        subject_index=np.concatenate(collected["s"]).astype(np.int64),
        subject_ids=tuple(volume.subject_id for volume in volumes),
        part_resampling=part_resampling,
    )


def _row_cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """`(N,)` cosine of each row pair of two `(N, D)` arrays (0 where a row is zero)."""
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    dots = np.sum(a * b, axis=1)
    return np.divide(dots, norms, out=np.zeros_like(dots), where=norms > 0)


def _embed(
    encoder: Encoder,
    crops: np.ndarray,
    part_resampling: bool,
    batch_size: int,
    device: str | torch.device,
) -> tuple[np.ndarray, np.ndarray]:
    """`(N, C, *W)` wholes -> `(N, D)` whole and `(N, P, D)` part embeddings."""
    dims = crops.ndim - 2
    count = 2**dims
    wholes, parts = [], []
    for first in range(0, len(crops), batch_size):
        batch = torch.as_tensor(crops[first : first + batch_size], dtype=torch.float32)
        batch = batch.to(device)  # (b, C, *W)
        pieces = split_into_parts(batch)  # (b * P, C, *W / 2)
        if part_resampling:
            mode = "trilinear" if dims == 3 else "bilinear"
            pieces = F.interpolate(pieces, size=batch.shape[2:], mode=mode, align_corners=False)
        per_pass = batch_size if part_resampling else batch_size * count
        wholes.append(pooled_crop_embeddings(encoder, batch, batch_size=batch_size, device=device))
        embedded = pooled_crop_embeddings(encoder, pieces, batch_size=per_pass, device=device)
        parts.append(embedded.reshape(len(batch), count, -1))
    return torch.cat(wholes).numpy(), torch.cat(parts).numpy()


def _whole_size(
    encoder: Encoder,
    volume: CachedVolume,
    whole_vox: int | Sequence[int] | None,
    whole_mm: float | Sequence[float] | None,
) -> tuple[int, ...]:
    dims, multiple = volume.spatial_dims, 2 * max(encoder.min_input_multiple, 1)
    if whole_vox is not None:
        size = (int(whole_vox),) * dims if isinstance(whole_vox, int) else tuple(whole_vox)
        if len(size) != dims or any(s < 1 or s % multiple for s in size):
            raise ValueError(
                f"whole_vox {whole_vox} must be {dims} positive multiple(s) of {multiple} "
                f"(twice the encoder's min_input_multiple, so each part is a valid input)"
            )
    else:
        extent = np.asarray(whole_mm, dtype=float).reshape(-1)
        if extent.size == 1:
            extent = np.repeat(extent, dims)
        if extent.shape != (dims,) or np.any(extent <= 0):
            raise ValueError(f"whole_mm must be one or {dims} positive sizes, got {whole_mm}")
        cells = np.maximum(np.rint(extent / np.asarray(volume.spacing_mm) / multiple), 1)
        size = tuple(int(c) * multiple for c in cells)
    if any(s > n for s, n in zip(size, volume.size_vox, strict=True)):
        raise ValueError(
            f"whole of {tuple(size)} voxels does not fit in volume {volume.subject_id!r} "
            f"(size_vox {volume.size_vox})"
        )
    return tuple(int(s) for s in size)


def _foreground_starts(
    volume: CachedVolume, size: tuple[int, ...], count: int, rng: np.random.Generator
) -> np.ndarray:
    """`(count, S)` starts of boxes inside the volume whose centre voxel is foreground."""
    half = np.asarray(size) // 2
    room = tuple(
        slice(int(h), int(n - s + h + 1))
        for h, n, s in zip(half, volume.size_vox, size, strict=True)
    )
    foreground = volume.load_image()[0] > volume.background_value  # (*size_vox)
    candidates = np.argwhere(foreground[room])  # (M, S) centres relative to the first valid one
    if len(candidates) == 0:
        raise ValueError(
            f"volume {volume.subject_id!r} has no foreground voxel (above the background value "
            f"{volume.background_value}) where a whole of {size} voxels fits"
        )
    chosen = rng.choice(len(candidates), size=count, replace=len(candidates) < count)
    return candidates[np.sort(chosen)].astype(np.int64)  # start = centre - half = candidate


def _landmark_starts(
    volume: CachedVolume, landmarks: Mapping[str, ArrayLike], size: tuple[int, ...]
) -> np.ndarray:
    """`(L, S)` starts of boxes around the landmarks, shifted to lie inside the volume."""
    _, points = landmark_points(volume, landmarks)
    centres = np.rint(volume.world_to_voxel(points)).astype(np.int64)
    starts = centres - np.asarray(size) // 2
    return np.clip(starts, 0, np.asarray(volume.size_vox) - np.asarray(size))
