"""Emphysema-like low-attenuation regions in three subtypes with different lung distributions."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from anatomy_ssl.phantoms.fast_gaussian_filter import gaussian_filter
from anatomy_ssl.phantoms.voxel_box import gaussian_radius, mask_box

#: Gaussian sigma (voxels) of the clustering noise per subtype.
_CLUSTER_SIGMA = {"centrilobular": 1.2, "panlobular": 2.0, "paraseptal": 1.5}


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

    The score is only needed at lung voxels, so it is computed in the lung's bounding box grown
    by the filter radius (one voxel for the distance transform): inside the lung every value is
    the one the whole volume would give.

    Args:
        lung: `(X, Y, Z)` bool parenchyma (lobes, no vessels or airways).
        lower_lobes: `(X, Y, Z)` bool lower-lobe voxels.
        height: `(X, Y, Z)` template z in mm (for the upper-lobe preference).
        subtype, severity: the disease.
        spacing_mm: voxel size, for the subpleural distance.
        rng: randomness.
    """
    count = round(0.35 * severity * np.count_nonzero(lung))
    sigma = _CLUSTER_SIGMA.get(subtype, _CLUSTER_SIGMA["paraseptal"])
    box = mask_box(lung, gaussian_radius(sigma))
    if count == 0 or box is None:  # (an empty lung has count 0)
        return np.zeros(lung.shape, dtype=bool)
    white = rng.standard_normal(lung.shape, dtype=np.float32)  # whole volume: same stream
    lung_box = lung[box]
    clusters = gaussian_filter(white[box], sigma)
    if subtype == "centrilobular":
        score = clusters * 4.0 + np.clip(height[box], -100, 200) / 40.0
        score -= 2.0 * lower_lobes[box]
    elif subtype == "panlobular":  # confluent patches, large enough to survive scanner blur
        score = clusters * 6.0 + 2.5 * lower_lobes[box]
    else:  # paraseptal: a patchy subpleural band, centred ~10 mm under the pleura so the
        # partial-volume layer at the lung surface does not hide it
        depth_mm = _depth_under_surface(lung, spacing_mm)[box]
        score = clusters * 3.0 - np.abs(depth_mm - 10.0) / 6.0
    values = score[lung_box]
    threshold = np.partition(values, len(values) - count)[len(values) - count]
    mask = np.zeros(lung.shape, dtype=bool)
    mask[box][lung_box] = values >= threshold
    return mask


def _depth_under_surface(lung: np.ndarray, spacing_mm: tuple[float, float, float]) -> np.ndarray:
    """`distance_transform_edt(lung, sampling=spacing_mm)`, computed in the lung's box grown by
    one voxel: the nearest non-lung voxel of any lung voxel, clamped into that box, is a non-lung
    voxel at least as near, so every distance is the same (0 outside the box)."""
    depth = np.zeros(lung.shape)
    near = mask_box(lung, 1)
    if near is not None:
        depth[near] = ndimage.distance_transform_edt(lung[near], sampling=spacing_mm)
    return depth
