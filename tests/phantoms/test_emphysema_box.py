"""The emphysema score computed in the lung's bounding box equals the whole-volume computation."""

import numpy as np
import pytest
from scipy import ndimage

from anatomy_ssl.phantoms.emphysema_model import emphysema_mask


def _whole_volume_reference(lung, lower, height, subtype, severity, spacing, rng):
    count = round(0.35 * severity * int(lung.sum()))
    white = rng.standard_normal(lung.shape, dtype=np.float32)
    if subtype == "centrilobular":
        score = ndimage.gaussian_filter(white, 1.2) * 4.0 + np.clip(height, -100, 200) / 40.0
        score -= 2.0 * lower
    elif subtype == "panlobular":
        score = ndimage.gaussian_filter(white, 2.0) * 6.0 + 2.5 * lower
    else:
        depth = ndimage.distance_transform_edt(lung, sampling=spacing)
        score = ndimage.gaussian_filter(white, 1.5) * 3.0 - np.abs(depth - 10.0) / 6.0
    values = score[lung]
    threshold = np.partition(values, len(values) - count)[len(values) - count]
    mask = np.zeros(lung.shape, dtype=bool)
    mask[lung] = values >= threshold
    return mask


@pytest.mark.parametrize("subtype", ["centrilobular", "panlobular", "paraseptal"])
@pytest.mark.parametrize("centre", [(20, 18, 22), (8, 18, 40)])  # inside; cut by two borders
def test_box_computation_equals_whole_volume(subtype, centre):
    shape = (40, 36, 48)
    grid = np.indices(shape).astype(float)
    radii = np.array([11.0, 9.0, 14.0])[:, None, None, None]
    lung = (((grid - np.array(centre)[:, None, None, None]) / radii) ** 2).sum(0) <= 1
    height = (grid[2] - 24) * 4.0
    lower = lung & (grid[2] < centre[2])
    spacing = (4.2, 4.2, 3.1)
    expected = _whole_volume_reference(
        lung, lower, height, subtype, 0.5, spacing, np.random.default_rng(7)
    )
    found = emphysema_mask(
        lung,
        lower,
        height,
        subtype=subtype,
        severity=0.5,
        spacing_mm=spacing,
        rng=np.random.default_rng(7),
    )
    assert expected.any()
    assert np.array_equal(found, expected)
