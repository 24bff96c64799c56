import numpy as np
import pytest
from scipy import ndimage

from anatomy_ssl.phantoms.fast_gaussian_filter import gaussian_filter


@pytest.mark.parametrize(
    "shape, sigma",
    [
        ((23, 17, 31), 1.5),
        ((23, 17, 31), (0.4, 0.9, 2.2)),
        ((23, 17, 31), (0.0, 0.7, 1.2)),
        ((5, 40, 3), 2.0),  # lines shorter than the kernel
        ((40, 30), 1.1),
        ((50,), 0.8),
    ],
)
def test_equals_scipy_bit_for_bit(shape, sigma):
    array = np.random.default_rng(0).standard_normal(shape, dtype=np.float32)
    expected = ndimage.gaussian_filter(array, sigma)
    found = gaussian_filter(array, sigma)
    assert found.dtype == expected.dtype
    assert np.array_equal(found, expected)


def test_leaves_the_input_alone_and_copies_for_zero_sigma():
    array = np.random.default_rng(1).standard_normal((6, 7, 8), dtype=np.float32)
    before = array.copy()
    gaussian_filter(array, 1.0)
    assert np.array_equal(array, before)
    unfiltered = gaussian_filter(array, 0.0)
    assert np.array_equal(unfiltered, array) and unfiltered is not array
