"""Affine registration of two cached volumes with SimpleITK: one RAS mm matrix, fixed -> moving.

Both volumes become `sitk.Image`s whose index -> physical geometry is exactly their cache affine
(array axis i is ITK index axis i; 3D RAS mm turned into ITK's LPS mm). A moments-centred affine
transform is then optimised by `sitk.ImageRegistrationMethod` on a multi-resolution pyramid.
ITK's transform maps fixed physical points to moving physical points; it comes back as one
homogeneous RAS matrix, so callers can map points of the fixed volume (a landmark, a grid of
locations on a reference volume) to the same anatomy in the moving one without a learned model.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk

from anatomy_ssl.errors import AnatomySSLError
from anatomy_ssl.io.itk_conversion import LPS_TO_RAS, itk_error_reason
from anatomy_ssl.preprocess import CachedVolume

#: Accepted range of the principal stretches (singular values of the linear part): adult anatomy
#: differs across subjects by well under a factor of 2 per axis once both volumes are in mm, so a
#: stretch outside this range means the optimiser ran away, not a real size difference.
MIN_SCALE, MAX_SCALE = 0.5, 2.0
#: Regular-step gradient descent, in the units of `SetOptimizerScalesFromPhysicalShift` (a unit
#: step moves voxels by about one voxel): the first step of each level, the smallest step before
#: the level stops, the factor the step shrinks by when the gradient turns back, and a gradient
#: norm small enough to stop at (tiny: the correlation's gradient is small near the optimum).
LEARNING_RATE = 1.0
MIN_STEP = 1e-3
RELAXATION_FACTOR = 0.5
GRADIENT_TOLERANCE = 1e-8


class RegistrationError(AnatomySSLError, RuntimeError):
    """Registration of a pair failed or diverged; batch callers record `reason` and go on.

    Attributes:
        fixed_subject, moving_subject: subject ids of the pair.
        reason: what went wrong (SimpleITK's message, a NaN metric, a degenerate matrix).
    """

    def __init__(self, fixed_subject: str, moving_subject: str, reason: str) -> None:
        self.fixed_subject = fixed_subject
        self.moving_subject = moving_subject
        self.reason = reason
        super().__init__(
            f"affine registration of moving {moving_subject!r} to fixed {fixed_subject!r} "
            f"failed: {reason}"
        )


@dataclass(frozen=True)
class AffineRegistration:
    """The result of `register_affine`.

    Attributes:
        fixed_to_moving_mm: `(S + 1, S + 1)` homogeneous matrix taking a RAS mm point of the fixed
            volume to the RAS mm point of the same anatomy in the moving volume (2D: the
            project's image-plane mm).
        metric_value: final metric, minus the squared normalised correlation of the images
            (-1 is a perfect linear match of intensities, 0 none).
        iterations: optimiser iterations summed over the pyramid levels.
        seconds: wall time of initialisation and optimisation.
        stop_reason: SimpleITK's stop condition of the optimiser at the last level.
    """

    fixed_to_moving_mm: np.ndarray
    metric_value: float
    iterations: int
    seconds: float
    stop_reason: str

    def map_points(self, points_mm: np.ndarray) -> np.ndarray:
        """Map `(N, S)` fixed-volume RAS mm points to `(N, S)` moving-volume RAS mm points."""
        dims = self.fixed_to_moving_mm.shape[0] - 1
        points = np.atleast_2d(np.asarray(points_mm, dtype=float))
        if points.shape[1] != dims:
            raise ValueError(f"expected (N, {dims}) points, got {points.shape}")
        linear, shift = self.fixed_to_moving_mm[:dims, :dims], self.fixed_to_moving_mm[:dims, dims]
        return points @ linear.T + shift


def _world_flip(dims: int) -> np.ndarray:
    """`(S + 1, S + 1)` change of world frame, project -> ITK (its own inverse).

    3D: RAS <-> LPS. 2D: identity, as the project's 2D affines are already in ITK's image-plane
    frame (see `anatomy_ssl.io.itk_conversion`).
    """
    return LPS_TO_RAS if dims == 3 else np.eye(dims + 1)


def to_itk_image(array: np.ndarray, affine: np.ndarray) -> sitk.Image:
    """A `sitk.Image` of `array` whose index -> physical map is `affine` (in ITK's frame).

    Args:
        array: `(*size_vox)` 2D or 3D array; array axis a is ITK index axis a (so `array[i, j, k]`
            is the pixel at ITK index `(i, j, k)`). Float arrays become float32, bool uint8.
        affine: `(S + 1, S + 1)` voxel index -> world mm, RAS for 3D (the cache convention).

    Returns:
        The image with spacing (mm), direction and origin in ITK's LPS mm (3D).
    """
    dims = array.ndim
    if dims not in (2, 3) or affine.shape != (dims + 1, dims + 1):
        raise ValueError(
            f"need a 2D or 3D array and a matching affine; got {array.shape}, {affine.shape}"
        )
    itk_affine = _world_flip(dims) @ affine
    spacing = np.linalg.norm(itk_affine[:dims, :dims], axis=0)  # (S,) mm per voxel
    direction = itk_affine[:dims, :dims] / spacing[None, :]
    pixels = array.astype(np.uint8 if array.dtype == bool else np.float32, copy=False)
    # GetImageFromArray reads numpy axes in reverse (the last one is ITK's x): transpose first.
    image = sitk.GetImageFromArray(np.ascontiguousarray(pixels.T))
    image.SetSpacing(spacing.tolist())
    image.SetDirection(direction.ravel().tolist())
    image.SetOrigin(itk_affine[:dims, dims].tolist())
    return image


def _homogeneous(transform: sitk.AffineTransform, dims: int) -> np.ndarray:
    """`(S + 1, S + 1)` matrix of ITK's `p -> A (p - c) + c + t`, in ITK's frame."""
    linear = np.asarray(transform.GetMatrix(), dtype=float).reshape(dims, dims)
    center = np.asarray(transform.GetCenter(), dtype=float)
    matrix = np.eye(dims + 1)
    matrix[:dims, :dims] = linear
    matrix[:dims, dims] = center + np.asarray(transform.GetTranslation()) - linear @ center
    return matrix


def _degeneracy(matrix: np.ndarray) -> str | None:
    """Why `matrix` is not a plausible anatomical correspondence, or None if it is."""
    dims = matrix.shape[0] - 1
    linear = matrix[:dims, :dims]
    if not np.all(np.isfinite(matrix)):
        return "the matrix is not finite"
    determinant = float(np.linalg.det(linear))
    if determinant <= 0:
        return f"the matrix mirrors or collapses space (determinant {determinant:.3g})"
    stretches = np.linalg.svd(linear, compute_uv=False)
    if stretches.min() < MIN_SCALE or stretches.max() > MAX_SCALE:
        return (
            f"a scale of the matrix is outside [{MIN_SCALE}, {MAX_SCALE}] "
            f"(scales {np.round(stretches, 3).tolist()})"
        )
    return None


def _shrunk(image: sitk.Image, factor: int) -> sitk.Image:
    """`image` averaged over blocks of `factor` voxels per axis (itself when `factor` is 1); the
    output's origin and spacing put each average at its block's centre."""
    return image if factor == 1 else sitk.BinShrink(image, [factor] * image.GetDimension())


@contextmanager
def _global_threads(threads: int | None) -> Iterator[None]:
    """SimpleITK's global default thread count set to `threads` inside the block (None: left
    alone). The metric takes its threads from that default, not from the registration method's
    own setting, so this is the one way to fix them."""
    if threads is None:
        yield
        return
    previous = sitk.ProcessObject.GetGlobalDefaultNumberOfThreads()
    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(threads)
    try:
        yield
    finally:
        sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(previous)


def register_affine(
    fixed: CachedVolume,
    moving: CachedVolume,
    *,
    fixed_mask: np.ndarray | None = None,
    shrink_factors: Sequence[int] = (4, 2, 1),
    smoothing_sigmas_vox: Sequence[float] = (2, 1, 0),
    iterations: int = 200,
    sampling_fraction: float = 0.25,
    seed: int = 0,
    threads: int | None = None,
    prior_shrink: int = 1,
) -> AffineRegistration:
    """Affinely register `moving` to `fixed` (channel 0 of each) with SimpleITK.

    Initialisation aligns the intensity centres of mass (`CenteredTransformInitializer`,
    MOMENTS, on images shifted so the background is 0). The metric is the normalised
    correlation: both volumes come from one modality's preprocessing, so matching anatomy has
    linearly related intensities, which it is invariant to. Unlike Mattes mutual information,
    whose Parzen-window estimate pulled even a self-registration ~1 % in scale off the identity
    in our tests, its optimum is unbiased, and it is cheaper. Pairs of different modalities
    (CT to MRI) would need mutual information instead. The optimiser is regular-step gradient
    descent with scales from physical shift (a unit step of any parameter moves voxels by about
    the same distance, so rotations, scales and translations need no hand-tuned weights),
    restarting at each pyramid level. The metric samples a random `sampling_fraction` of the
    voxels drawn with `seed`, so a run is deterministic (for a given SimpleITK build).

    Args:
        fixed, moving: cached volumes of the same spatial dimensionality (2 or 3).
        fixed_mask: optional `(*fixed.size_vox)` bool mask on the fixed grid (e.g. the lungs);
            the metric only samples fixed voxels inside it.
        shrink_factors: per pyramid level, coarse to fine, the downsampling factor (voxels).
        smoothing_sigmas_vox: per level, the Gaussian smoothing sigma (full-resolution voxels).
        iterations: maximum optimiser iterations per level.
        sampling_fraction: fraction in (0, 1] of the (masked) voxels the metric samples.
        seed: random seed (>= 0) of the metric's sampling.
        threads: threads of the registration (None: SimpleITK's global default, which is set to
            this for the call and restored after). The metric's sums are split across threads,
            so the last bits of the matrix depend on the count: fix it to get identical matrices
            on machines or pools of different sizes.
        prior_shrink: both images (and the mask) are first averaged over blocks of this many
            voxels per axis (`sitk.BinShrink`, which keeps the physical geometry exact); the
            pyramid's factors and sigmas then count voxels of the shrunk images. ITK smooths
            and differentiates the moving image at its input size at every level, so for a large
            volume whose finest useful level is coarser than its voxels this is several times
            faster.

    Returns:
        The RAS mm `fixed_to_moving_mm` matrix with metric, iterations, time and stop reason.

    Raises:
        ValueError: inconsistent arguments (dimensions, mask shape, pyramid lengths, seed).
        RegistrationError: SimpleITK failed (e.g. a constant image), the final metric is not
            finite, or the matrix is degenerate (determinant <= 0, a principal stretch outside
            [MIN_SCALE, MAX_SCALE] = [0.5, 2]).
    """
    dims = fixed.spatial_dims
    if moving.spatial_dims != dims or dims not in (2, 3):
        raise ValueError(
            f"need two 2D or two 3D volumes; got {fixed.spatial_dims}D and {moving.spatial_dims}D"
        )
    if len(shrink_factors) != len(smoothing_sigmas_vox) or not shrink_factors:
        raise ValueError("shrink_factors and smoothing_sigmas_vox need one entry per level")
    if not 0 < sampling_fraction <= 1:
        raise ValueError(f"sampling_fraction must be in (0, 1], got {sampling_fraction}")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    if threads is not None and threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    if prior_shrink < 1:
        raise ValueError(f"prior_shrink must be >= 1, got {prior_shrink}")
    # The correlation ignores an intensity shift; the moments need a background of 0.
    fixed_image = _shrunk(
        to_itk_image(fixed.load_image()[0] - fixed.background_value, fixed.affine), prior_shrink
    )
    moving_image = _shrunk(
        to_itk_image(moving.load_image()[0] - moving.background_value, moving.affine),
        prior_shrink,
    )

    method = sitk.ImageRegistrationMethod()
    method.SetMetricAsCorrelation()
    method.SetMetricSamplingStrategy(method.RANDOM)
    method.SetMetricSamplingPercentage(sampling_fraction, seed + 1)  # ITK's seed 0: wall clock
    if fixed_mask is not None:
        mask = np.asarray(fixed_mask, dtype=bool)
        if mask.shape != fixed.size_vox:
            raise ValueError(f"fixed_mask is {mask.shape}, the fixed volume {fixed.size_vox}")
        shrunk_mask = _shrunk(to_itk_image(mask.astype(np.float32), fixed.affine), prior_shrink)
        method.SetMetricFixedMask(shrunk_mask >= 0.5)  # voxels mostly inside the mask
    method.SetInterpolator(sitk.sitkLinear)
    method.SetOptimizerAsRegularStepGradientDescent(
        learningRate=LEARNING_RATE,
        minStep=MIN_STEP,
        numberOfIterations=iterations,
        relaxationFactor=RELAXATION_FACTOR,
        gradientMagnitudeTolerance=GRADIENT_TOLERANCE,
    )
    method.SetOptimizerScalesFromPhysicalShift()
    method.SetShrinkFactorsPerLevel([int(f) for f in shrink_factors])
    method.SetSmoothingSigmasPerLevel([float(s) for s in smoothing_sigmas_vox])
    method.SmoothingSigmasAreSpecifiedInPhysicalUnitsOff()
    iterations_run = 0

    def count_iteration() -> None:
        nonlocal iterations_run
        iterations_run += 1

    method.AddCommand(sitk.sitkIterationEvent, count_iteration)

    start = time.perf_counter()
    try:
        with _global_threads(threads):
            transform = sitk.CenteredTransformInitializer(
                fixed_image,
                moving_image,
                sitk.AffineTransform(dims),
                sitk.CenteredTransformInitializerFilter.MOMENTS,
            )
            method.SetInitialTransform(transform, inPlace=True)  # optimised in place
            method.Execute(fixed_image, moving_image)
    except RuntimeError as error:
        raise RegistrationError(
            fixed.subject_id, moving.subject_id, itk_error_reason(error)
        ) from error
    seconds = time.perf_counter() - start

    metric = float(method.GetMetricValue())
    if not np.isfinite(metric):
        raise RegistrationError(fixed.subject_id, moving.subject_id, f"the metric is {metric}")
    flip = _world_flip(dims)
    matrix = flip @ _homogeneous(transform, dims) @ flip
    problem = _degeneracy(matrix)
    if problem is not None:
        raise RegistrationError(fixed.subject_id, moving.subject_id, problem)
    matrix.setflags(write=False)  # the result is frozen
    return AffineRegistration(
        fixed_to_moving_mm=matrix,
        metric_value=metric,
        iterations=iterations_run,
        seconds=seconds,
        stop_reason=method.GetOptimizerStopConditionDescription(),
    )
