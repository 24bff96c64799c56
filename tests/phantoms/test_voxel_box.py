import numpy as np

from anatomy_ssl.phantoms.voxel_box import gaussian_radius, mask_box


def test_box_holds_the_mask_grown_and_clipped():
    mask = np.zeros((10, 12, 14), dtype=bool)
    mask[2, 5, 7] = mask[4, 6, 13] = True
    assert mask_box(mask) == (slice(2, 5), slice(5, 7), slice(7, 14))
    assert mask_box(mask, 3) == (slice(0, 8), slice(2, 10), slice(4, 14))
    assert mask_box(mask, (0, 1, 2)) == (slice(2, 5), slice(4, 8), slice(5, 14))
    box = mask_box(mask, 1)
    assert box is not None and mask[box].sum() == mask.sum()


def test_empty_mask_has_no_box():
    assert mask_box(np.zeros((3, 4, 5), dtype=bool)) is None


def test_radius_matches_scipy_kernel_length():
    from scipy.ndimage import _filters

    for sigma in (0.3, 0.7, 1.2, 1.5, 2.0):
        radius = gaussian_radius(sigma)
        assert len(_filters._gaussian_kernel1d(sigma, 0, radius)) == 2 * radius + 1
        assert radius == int(4.0 * sigma + 0.5)
