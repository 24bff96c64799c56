import numpy as np
import pytest

from anatomy_ssl.anatomy import body_bounding_box
from support.coordinate_volumes import write_test_entry

# (size, body start, body stop): odd and even edges, and a body touching the volume's border.
BOXES = [
    ((16, 14, 18), (3, 4, 5), (12, 10, 15)),
    ((16, 14, 18), (2, 5, 0), (11, 14, 17)),
    ((15, 13, 9), (0, 1, 2), (15, 8, 7)),
    ((20, 17), (5, 2), (14, 16)),
    ((20, 17), (0, 7), (19, 17)),
]


def _entry(tmp_path, image):
    dims = image.ndim - 1
    return write_test_entry(tmp_path, "s0", image[None].astype(np.float32), np.eye(dims + 1))


@pytest.mark.parametrize(("size", "start", "stop"), BOXES)
def test_the_bright_box_is_recovered_within_one_voxel_and_contained(tmp_path, size, start, stop):
    rng = np.random.default_rng(0)
    image = -1.0 + 0.01 * rng.random(size)  # dark, slightly noisy background
    body = tuple(slice(a, b) for a, b in zip(start, stop, strict=True))
    image[body] = 1.0 + 0.2 * rng.random(image[body].shape)
    found_start, found_stop = body_bounding_box(_entry(tmp_path, image))
    assert found_start.dtype == found_stop.dtype == np.int64
    assert found_start.shape == found_stop.shape == (len(size),)
    assert np.all(np.abs(found_start - start) <= 1) and np.all(np.abs(found_stop - stop) <= 1)
    # Loose, never tight: the box holds the whole body and stays inside the volume.
    assert np.all(found_start <= start) and np.all(found_stop >= stop)
    assert np.all(found_start >= 0) and np.all(found_stop <= size)


def test_a_small_bright_speck_apart_from_the_body_is_ignored(tmp_path):
    image = np.zeros((20, 20, 20))
    image[2:12, 3:11, 4:10] = 1.0
    image[16:18, 16:18, 16:18] = 1.0  # a separate, smaller component (e.g. the table)
    start, stop = body_bounding_box(_entry(tmp_path, image))
    assert np.all(np.abs(start - [2, 3, 4]) <= 1) and np.all(np.abs(stop - [12, 11, 10]) <= 1)


@pytest.mark.parametrize("size", [(9, 8, 7), (11, 6)])
def test_a_constant_volume_gives_the_whole_volume(tmp_path, size):
    start, stop = body_bounding_box(_entry(tmp_path, np.full(size, 0.3)))
    assert start.tolist() == [0] * len(size)
    assert stop.tolist() == list(size)
