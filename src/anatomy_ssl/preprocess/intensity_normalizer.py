"""Intensity normalization (CT Hounsfield window, MRI percentile clip) and foreground masks."""

from __future__ import annotations

import numpy as np

from anatomy_ssl.preprocess.preprocess_spec import PreprocessSpec


def _mri_reference_voxels(image: np.ndarray) -> np.ndarray:
    """Voxels that define MRI statistics: non-zero ones (background is often exactly 0)."""
    nonzero = image[image != 0]
    return nonzero if nonzero.size else image.ravel()


def foreground_mask(image: np.ndarray, spec: PreprocessSpec) -> np.ndarray:
    """Boolean mask of body voxels in a raw (not yet normalized) image.

    Args:
        image: `(C, *spatial)` raw intensities (HU for CT); channel 0 decides.
        spec: gives the modality and thresholds.

    Returns:
        `(*spatial)` boolean mask.
    """
    first = image[0]
    if spec.intensity == "ct":
        return first > spec.body_threshold_hu
    upper = np.percentile(_mri_reference_voxels(first), spec.mri_percentiles[1])
    return first > spec.mri_foreground_fraction * upper


def normalize_intensity(image: np.ndarray, spec: PreprocessSpec) -> np.ndarray:
    """Normalize a raw image as the spec says; returns float32 of the same shape.

    - "ct": clip to `ct_window_hu` and scale linearly to [0, 1].
    - "mri": per channel, clip to the `mri_percentiles` of the non-zero voxels, then "minmax"
      to [0, 1] or "zscore" with the clipped non-zero voxels' mean and std.
    - "none": unchanged values as float32.
    """
    image = image.astype(np.float32, copy=False)
    if spec.intensity == "ct":
        low, high = spec.ct_window_hu
        return ((np.clip(image, low, high) - low) / (high - low)).astype(np.float32)
    if spec.intensity == "none":
        return image
    channels = []
    for channel in image:  # channels, not voxels: a handful at most
        reference = _mri_reference_voxels(channel)
        low, high = np.percentile(reference, spec.mri_percentiles)
        clipped = np.clip(channel, low, high)
        if spec.mri_normalization == "minmax":
            scale = float(high - low) or 1.0
            channels.append((clipped - low) / scale)
        else:
            stats = np.clip(reference, low, high)
            channels.append((clipped - stats.mean()) / (float(stats.std()) or 1.0))
    return np.stack(channels).astype(np.float32)
