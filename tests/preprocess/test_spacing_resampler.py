import numpy as np
import pytest

from anatomy_ssl.io.volume import Volume
from anatomy_ssl.preprocess import ResamplingGrid, resample_to_grid


def _ramp_volume(spacing=(1.0, 2.0, 3.0)) -> Volume:
    """Values linear in world x: linear interpolation must reproduce them exactly."""
    size = (10, 8, 6)
    i = np.arange(size[0], dtype=np.float32)[:, None, None] * spacing[0]
    array = np.broadcast_to(i, size)[None].copy()
    affine = np.diag([*spacing, 1.0])
    affine[:3, 3] = [5.0, -3.0, 7.0]
    return Volume(array, affine)


def test_grid_keeps_first_voxel_and_field_of_view():
    volume = _ramp_volume()
    grid = ResamplingGrid.for_spacing(volume, (0.5, 1.0, 1.5))
    assert grid.size_vox == (20, 16, 12)
    assert np.allclose(grid.affine[:3, 3], volume.affine[:3, 3])
    assert np.allclose(np.linalg.norm(grid.affine[:3, :3], axis=0), (0.5, 1.0, 1.5))


def test_linear_resampling_reproduces_a_linear_ramp():
    volume = _ramp_volume()
    grid = ResamplingGrid.for_spacing(volume, (0.5, 1.0, 1.5))
    out = resample_to_grid(volume, grid, "linear")
    assert out.size_vox == grid.size_vox
    expected_x = np.arange(20) * 0.5  # world offset from the first voxel along x
    inside = expected_x <= 9.0  # beyond the last input voxel the nearest value is kept
    assert np.allclose(out.array[0, inside, 3, 2], expected_x[inside], atol=1e-4)
    assert np.allclose(out.array[0, ~inside, 3, 2], 9.0, atol=1e-4)


def test_labels_use_nearest_neighbour_and_keep_their_dtype_and_values():
    rng = np.random.default_rng(1)
    labels = rng.choice([0, 3, 7], size=(1, 9, 9, 9)).astype(np.uint8)
    volume = Volume(labels, np.diag([1.0, 1.0, 1.0, 1.0]))
    grid = ResamplingGrid.for_spacing(volume, (0.7, 1.3, 2.0))
    out = resample_to_grid(volume, grid, "nearest")
    assert out.array.dtype == np.uint8
    assert set(np.unique(out.array)) <= {0, 3, 7}
    # Output voxel (a, b, c) sits at input position (0.7a, 1.3b, 2c): nearest input voxel.
    a, b, c = 5, 3, 2
    assert out.array[0, a, b, c] == labels[0, round(0.7 * a), round(1.3 * b), round(2.0 * c)]


@pytest.mark.parametrize("interpolation", ["linear", "bspline"])
def test_two_dimensional_images_resample(interpolation):
    volume = Volume(np.ones((1, 8, 10), np.float32), np.diag([0.5, 0.5, 1.0]))
    out = resample_to_grid(volume, ResamplingGrid.for_spacing(volume, (1.0, 1.0)), interpolation)
    assert out.size_vox == (4, 5)
    assert np.allclose(out.array, 1.0, atol=1e-4)


def test_noop_grid_returns_input():
    volume = _ramp_volume()
    assert (
        resample_to_grid(volume, ResamplingGrid.for_spacing(volume, (1.0, 2.0, 3.0)), "linear")
        is volume
    )


@pytest.mark.parametrize("interpolation", ["linear", "nearest"])
def test_memory_layout_does_not_change_the_result(interpolation):
    rng = np.random.default_rng(2)
    values = rng.integers(0, 9, (1, 11, 9, 7)).astype(np.int16)
    affine = np.diag([0.8, 1.1, 2.0, 1.0])
    c_order = Volume(values, affine)
    fortran = Volume(np.asfortranarray(values[0])[None], affine)  # as nibabel returns arrays
    flipped = Volume(values[:, ::-1, :, ::-1], affine)  # a reorientation view: neither order
    grid = ResamplingGrid.for_spacing(c_order, (1.0, 0.7, 1.3))
    reference = resample_to_grid(c_order, grid, interpolation).array
    assert np.array_equal(resample_to_grid(fortran, grid, interpolation).array, reference)
    flipped_out = resample_to_grid(flipped, grid, interpolation).array
    assert flipped_out.shape == reference.shape
    assert np.array_equal(
        resample_to_grid(
            Volume(np.ascontiguousarray(flipped.array), affine), grid, interpolation
        ).array,
        flipped_out,
    )
