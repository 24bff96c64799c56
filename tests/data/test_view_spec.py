import numpy as np
import pytest

from anatomy_ssl.data import ViewSpec


def test_centre_is_start_plus_half_the_size():
    spec = ViewSpec(np.array([0, 2]), np.array([[0, 1, -2], [3, 4, 5]]), (4, 5, 6))
    assert spec.batch_size == 2
    assert np.array_equal(spec.center_vox, [[2, 3, 1], [5, 6, 8]])


def test_shapes_must_agree():
    with pytest.raises(ValueError, match="start_vox"):
        ViewSpec(np.array([0, 1]), np.zeros((2, 2), dtype=np.int64), (4, 4, 4))
