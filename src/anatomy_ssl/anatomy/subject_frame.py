"""One subject in DrasCLR's anatomical frame: registered to the reference, with each reference
location mapped into it and a mask of the locations it can serve (`build_frame` in
`anatomical_frame` does this for a whole cache)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from anatomy_ssl.anatomy.affine_registration import register_affine
from anatomy_ssl.anatomy.location_grid import LocationGrid, patch_coverage, region_mask
from anatomy_ssl.errors import InputError
from anatomy_ssl.preprocess import CachedVolume

#: Resolution (mm) of each registration pyramid level, coarse to fine. A patch is tens of mm
#: wide, so aligning it to ~2 mm is plenty: no level finer than 2 mm is run (the authors
#: registered at full resolution, 7 minutes a scan).
PYRAMID_MM = (8.0, 4.0, 2.0)
#: The metric samples at most this many voxels per iteration (and at most a quarter of them):
#: enough for a 12-parameter affine, and it keeps a 1 mm CT to seconds on one core.
MAX_METRIC_SAMPLES = 100_000
#: Threads of one registration. The metric's sums are split across threads, so the count changes
#: the last bits of the matrix: one thread each gives identical files whatever `workers` is, and
#: a cache is framed in parallel by its worker processes, one subject each.
REGISTRATION_THREADS = 1


@dataclass(frozen=True, eq=False)
class SubjectFrame:
    """The L reference locations mapped into one subject's cache volume (S spatial dimensions).

    Attributes:
        subject_key: the subject's cache entry key.
        subject_id: its subject id.
        centres_vox: `(L, S)` float64 continuous voxel coordinates, in the subject's cache
            volume, of each reference location's centre.
        valid: `(L,)` bool: the location's whole patch (around the rounded centre) lies in the
            subject's volume and, when its region was checked, covers enough of the region.
        reference_to_subject_mm: `(S + 1, S + 1)` homogeneous RAS mm matrix, reference world
            -> subject world (the identity for the reference itself).
        outside_volume: locations whose patch leaves the subject's volume (field of view).
        outside_region: locations inside the volume whose patch covers too little of the
            subject's region.
        region_checked: whether the subject's own region mask was checked (region labels were
            given and the subject has a label map).
        metric_value: the registration's final metric (nan for the reference itself).
        registration_seconds: wall time of the registration.
    """

    subject_key: str
    subject_id: str
    centres_vox: np.ndarray
    valid: np.ndarray
    reference_to_subject_mm: np.ndarray
    outside_volume: int
    outside_region: int
    region_checked: bool
    metric_value: float
    registration_seconds: float

    @property
    def valid_fraction(self) -> float:
        """Fraction of the locations this subject can serve."""
        return float(self.valid.mean()) if self.valid.size else 0.0


def registration_pyramid(
    spacing_mm: Sequence[float],
) -> tuple[int, tuple[int, ...], tuple[float, ...]]:
    """How to reach `PYRAMID_MM` from `spacing_mm`: a prior shrink, then the pyramid's shrink
    factors and smoothing sigmas (voxels of the prior-shrunk images).

    A level's factor is its resolution over the coarsest voxel spacing (at least 1); levels
    that would repeat a factor are dropped; the finest level's factor becomes the prior shrink
    (`register_affine`'s `prior_shrink`), so no level works on more voxels than it uses. A
    level is smoothed with a sigma of half its factor (0 at its own resolution).
    """
    coarsest = max(spacing_mm)
    factors: list[int] = []
    for level_mm in PYRAMID_MM:
        factor = max(1, round(level_mm / coarsest))
        if not factors or factor < factors[-1]:
            factors.append(factor)
    prior = factors[-1]
    shrinks = tuple(max(1, factor // prior) for factor in factors)
    return prior, shrinks, tuple(factor / 2 if factor > 1 else 0.0 for factor in shrinks)


def frame_subject(
    reference: CachedVolume,
    subject: CachedVolume,
    grid: LocationGrid,
    *,
    region_labels: Sequence[int] | None = None,
    iterations: int = 200,
) -> SubjectFrame:
    """Register `subject` to `reference` and map the grid's location centres into it.

    The reference is the fixed volume and the subject the moving one (`register_affine`); with
    `region_labels`, the metric samples only the reference's region (the fixed mask: a moving
    mask too would let the optimiser shrink the overlap to its best-matching part). The
    reference itself gets the identity, unregistered. A location is valid when the patch of
    `grid.patch_vox` voxels around its rounded centre lies inside the subject's volume (the
    cache resamples every volume to one spacing, so the patch has the same size in voxels
    everywhere) and, when `region_labels` are given and the subject has a label map, at least
    `grid.min_coverage` of that patch is in the subject's region (the rule that kept the
    location on the reference).

    Args:
        reference: the volume the grid was built on.
        subject: a volume of the same spatial dimensionality S.
        grid: the L locations (`location_grid`).
        region_labels: label values of the region, or None (register on the whole image, check
            no region in the subject).
        iterations: the registration's maximum iterations per pyramid level.

    Returns:
        The subject's `(L, S)` centres in its voxel coordinates, `(L,)` validity and the
        reference -> subject RAS mm matrix.

    Raises:
        InputError: a subject of another spatial dimensionality, region labels on a reference
            without a label map.
        RegistrationError: the registration failed or diverged (its `reason` says how).
    """
    dims = reference.spatial_dims
    if subject.spatial_dims != dims:
        raise InputError(
            subject.folder,
            f"subject {subject.subject_id!r} is {subject.spatial_dims}D, the reference {dims}D",
        )
    matrix, metric, seconds = np.eye(dims + 1), float("nan"), 0.0
    if subject.key != reference.key:
        mask = None if region_labels is None else region_mask(reference, region_labels)
        prior, shrinks, sigmas = registration_pyramid(reference.spacing_mm)
        voxels = float(mask.sum() if mask is not None else np.prod(reference.size_vox))
        finest = max(voxels / prior**dims, 1.0)  # voxels of the finest level
        registration = register_affine(
            reference,
            subject,
            fixed_mask=mask,
            prior_shrink=prior,
            shrink_factors=shrinks,
            smoothing_sigmas_vox=sigmas,
            iterations=iterations,
            sampling_fraction=min(0.25, MAX_METRIC_SAMPLES / finest),
            threads=REGISTRATION_THREADS,
        )
        matrix = np.array(registration.fixed_to_moving_mm)
        metric, seconds = registration.metric_value, registration.seconds
    centres_mm = grid.centres_mm @ matrix[:dims, :dims].T + matrix[:dims, dims]  # (L, S)
    centres_vox = subject.world_to_voxel(centres_mm)  # (L, S)
    patch = np.asarray(grid.patch_vox, dtype=np.int64)
    starts = np.rint(centres_vox).astype(np.int64) - patch // 2  # (L, S), as crops_at_centers
    size = np.asarray(subject.size_vox, dtype=np.int64)
    inside = np.all((starts >= 0) & (starts + patch <= size), axis=1)  # (L,)
    in_region = np.ones_like(inside)
    region_checked = region_labels is not None and subject.has_label
    if region_checked and inside.any():
        coverage = patch_coverage(
            region_mask(subject, region_labels), starts[inside], grid.patch_vox
        )
        in_region[inside] = coverage >= grid.min_coverage
    return SubjectFrame(
        subject_key=subject.key,
        subject_id=subject.subject_id,
        centres_vox=centres_vox,
        valid=inside & in_region,
        reference_to_subject_mm=matrix,
        outside_volume=int((~inside).sum()),
        outside_region=int((inside & ~in_region).sum()),
        region_checked=bool(region_checked),
        metric_value=float(metric),
        registration_seconds=float(seconds),
    )
