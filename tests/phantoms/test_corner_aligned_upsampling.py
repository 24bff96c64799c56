"""Separable corner-aligned upsampling equals scipy's zoom and keeps corners and constants."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi

from anatomy_ssl.phantoms.corner_aligned_upsampling import upsample_corner_aligned


@pytest.mark.parametrize("order", [1, 3])
def test_matches_zoom(order: int) -> None:
    field = np.random.default_rng(0).normal(size=(2, 5, 4, 6)).astype(np.float32)
    size = (17, 9, 23)
    expected = np.stack(
        [
            ndi.zoom(c, np.divide(size, c.shape), order=order, mode="mirror", grid_mode=False)
            for c in field
        ]
    )
    result = upsample_corner_aligned(field, size, order=order)
    assert result.shape == (2, *size) and result.dtype == np.float32
    assert result.flags["C_CONTIGUOUS"]
    np.testing.assert_allclose(result, expected, atol=1e-5)


def test_corners_and_constants_are_kept() -> None:
    field = np.random.default_rng(1).normal(size=(1, 3, 3, 3)).astype(np.float32)
    result = upsample_corner_aligned(field, (11, 7, 5), order=3)
    np.testing.assert_allclose(result[0, ::5, ::3, ::2], field[0], atol=1e-5)
    constant = upsample_corner_aligned(np.full((1, 4, 4, 4), 2.5), (9, 9, 9))
    np.testing.assert_allclose(constant, 2.5, atol=1e-5)


def test_rejects_a_degenerate_grid() -> None:
    with pytest.raises(ValueError, match=">= 2"):
        upsample_corner_aligned(np.zeros((1, 1, 4, 4)), (5, 5, 5))
