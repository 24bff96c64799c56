"""Emphysema-like low-attenuation regions in three subtypes with different lung distributions."""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def emphysema_mask(
    lung: np.ndarray,
    lower_lobes: np.ndarray,
    height: np.ndarray,
    *,
    subtype: str,
    severity: float,
    spacing_mm: tuple[float, float, float],
    rng: np.random.Generator,
) -> np.ndarray:
    """Voxels of the lung parenchyma that are emphysematous.

    The affected fraction of the lung is `0.35 * severity`; where it falls depends on the subtype:
    centrilobular: small clusters, upper lobes; panlobular: diffuse, lower lobes;
    paraseptal: subpleural (a band around 10 mm under the lung surface).

    Args:
        lung: `(X, Y, Z)` bool parenchyma (lobes, no vessels or airways).
        lower_lobes: `(X, Y, Z)` bool lower-lobe voxels.
        height: `(X, Y, Z)` template z in mm (for the upper-lobe preference).
        subtype, severity: the disease.
        spacing_mm: voxel size, for the subpleural distance.
        rng: randomness.
    """
    count = round(0.35 * severity * int(lung.sum()))
    if count == 0:
        return np.zeros(lung.shape, dtype=bool)
    white = rng.standard_normal(lung.shape, dtype=np.float32)
    if subtype == "centrilobular":
        score = ndimage.gaussian_filter(white, 1.2) * 4.0 + np.clip(height, -100, 200) / 40.0
        score -= 2.0 * lower_lobes
    elif subtype == "panlobular":  # confluent patches, large enough to survive scanner blur
        score = ndimage.gaussian_filter(white, 2.0) * 6.0 + 2.5 * lower_lobes
    else:  # paraseptal: a patchy subpleural band, centred ~10 mm under the pleura so the
        # partial-volume layer at the lung surface does not hide it
        depth_mm = ndimage.distance_transform_edt(lung, sampling=spacing_mm)
        score = ndimage.gaussian_filter(white, 1.5) * 3.0 - np.abs(depth_mm - 10.0) / 6.0
    values = score[lung]
    threshold = np.partition(values, len(values) - count)[len(values) - count]
    mask = np.zeros(lung.shape, dtype=bool)
    mask[lung] = values >= threshold
    return mask
