from __future__ import annotations

import numpy as np
import pytest

from anatomy_ssl.errors import InputError
from anatomy_ssl.io.image_plane import lift_to_3d, squeeze_to_2d
from anatomy_ssl.io.volume import Volume

FLIP_XY = np.diag([-1.0, -1.0, 1.0, 1.0])


def _volume(shape: tuple[int, int, int], affine_lps: np.ndarray) -> Volume:
    array = np.arange(np.prod(shape), dtype=np.float32).reshape((1, *shape))
    return Volume(array=array, affine=FLIP_XY @ affine_lps)


def test_axial_slice_uses_dicom_x_across_and_y_down() -> None:
    lps = np.diag([0.5, 0.7, 3.0, 1.0])
    lps[:3, 3] = [-30.0, -40.0, 12.0]
    volume = _volume((4, 3, 1), lps)  # (cols, rows, 1)
    flat = squeeze_to_2d(volume, path="x.dcm")
    np.testing.assert_array_equal(flat.array[0], volume.array[0, :, :, 0].T)  # (rows, cols)
    np.testing.assert_allclose(flat.affine, [[0, 0.5, -30], [0.7, 0, -40], [0, 0, 1]])
    assert flat.metadata["affine_3d"] == volume.affine.tolist()


def test_sagittal_slice_keeps_y_and_z() -> None:
    lps = np.zeros((4, 4))
    lps[1, 1], lps[2, 2], lps[0, 0], lps[3, 3] = 0.8, 1.5, 2.0, 1.0  # j -> y, k -> z
    flat = squeeze_to_2d(_volume((1, 5, 6), lps), path="s.nii")
    assert flat.array.shape == (1, 6, 5)  # rows run along k, columns along j
    np.testing.assert_allclose(flat.affine, [[0, 0.8, 0], [1.5, 0, 0], [0, 0, 1]])


def test_oblique_slice_keeps_true_spacing() -> None:
    angle = np.deg2rad(30)
    lps = np.eye(4)
    lps[:3, 0] = [0.5, 0, 0]
    lps[:3, 1] = [0, 0.7 * np.cos(angle), 0.7 * np.sin(angle)]
    flat = squeeze_to_2d(_volume((4, 3, 1), lps), path="o.dcm")
    np.testing.assert_allclose(flat.spacing_mm, (0.7, 0.5))


@pytest.mark.parametrize(
    "affine",
    [
        [[0, 1.0, 0], [1.0, 0, 0], [0, 0, 1]],
        [[0, -0.5, 12.0], [2.0, 0, -3.0], [0, 0, 1]],
        [[0.3, 0.8, 1.0], [0.9, -0.2, 2.0], [0, 0, 1]],
    ],
)
def test_lift_then_squeeze_is_exact(affine: list[list[float]]) -> None:
    image = Volume(array=np.arange(12, dtype=np.float32).reshape(1, 3, 4), affine=np.array(affine))
    lifted = lift_to_3d(image)
    assert lifted.array.shape == (1, 4, 3, 1)
    back = squeeze_to_2d(lifted, path="r.nii")
    np.testing.assert_array_equal(back.array, image.array)
    np.testing.assert_allclose(back.affine, image.affine, atol=1e-12)


@pytest.mark.parametrize("shape", [(4, 5, 6), (1, 1, 6)])
def test_needs_exactly_one_singleton(shape: tuple[int, int, int]) -> None:
    with pytest.raises(InputError, match="3D volume where a 2D image is required"):
        squeeze_to_2d(_volume(shape, np.eye(4)), path="v.nii")


def test_parallel_axes() -> None:
    lps = np.eye(4)
    lps[:3, 1] = [1.0, 0, 0]
    with pytest.raises(InputError, match="singular affine"):
        squeeze_to_2d(_volume((4, 3, 1), lps), path="p.nii")
