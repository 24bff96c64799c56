"""Shared fixtures for tests/io: tiny synthetic volumes, writers for several formats, DICOM series.

Tests run with `--import-mode=importlib`, so helpers are handed out as fixtures (callables)
rather than imported from this module.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid

from anatomy_ssl.io.volume import Volume

NIBABEL_DATA = Path(nib.__file__).parent / "tests" / "data"

#: LPS <-> RAS flip of homogeneous 3D points (defined here independently of the package).
FLIP_XY = np.diag([-1.0, -1.0, 1.0, 1.0])


def rotation(axis: str, degrees: float) -> np.ndarray:
    """4x4 rotation about a world axis."""
    angle = np.deg2rad(degrees)
    c, s = np.cos(angle), np.sin(angle)
    i, j = {"x": (1, 2), "y": (2, 0), "z": (0, 1)}[axis]
    matrix = np.eye(4)
    matrix[i, i] = matrix[j, j] = c
    matrix[i, j], matrix[j, i] = -s, s
    return matrix


@pytest.fixture
def phantom_data() -> np.ndarray:
    """`(6, 7, 8)` float32 with a distinct value per voxel (so values identify voxels)."""
    return np.arange(6 * 7 * 8, dtype=np.float32).reshape(6, 7, 8) + 100.0


@pytest.fixture
def phantom_affine() -> np.ndarray:
    """A RAS affine with anisotropic spacing (0.75, 1.25, 2.5) mm, float32-exact values."""
    affine = np.diag([0.75, 1.25, 2.5, 1.0])
    affine[:3, 3] = [-10.5, 20.25, 5.0]
    return affine


@pytest.fixture
def nibabel_data() -> Path:
    """Folder of nibabel's own test files (anatomical.nii, example4d.nii.gz, ...)."""
    return NIBABEL_DATA


@pytest.fixture
def write_nib() -> Callable[..., Path]:
    """Write `data` with a RAS `affine` as NIfTI with nibabel (independent of the package)."""

    def write(path: Path, data: np.ndarray, affine: np.ndarray) -> Path:
        image = nib.Nifti1Image(data, affine, dtype=data.dtype)
        image.set_qform(affine, code="aligned")
        nib.save(image, path)
        return path

    return write


@pytest.fixture
def write_itk() -> Callable[..., Path]:
    """Write `data` `(i, j, k[, c])` with a RAS affine through SimpleITK (any ITK format).

    The ITK image's direction and origin are the affine's in LPS, so a non-diagonal affine gives
    a non-identity direction.
    """

    def write(path: Path, data: np.ndarray, affine_ras: np.ndarray) -> Path:
        sitk.WriteImage(itk_image(data, affine_ras), str(path))
        return path

    return write


def itk_image(data: np.ndarray, affine_ras: np.ndarray) -> sitk.Image:
    """A SimpleITK image of `data` `(i, j, k[, c])` placed by a RAS affine."""
    vector = data.ndim == 4
    array = np.ascontiguousarray(np.moveaxis(data, (0, 1, 2), (2, 1, 0)))  # (k, j, i[, c])
    image = sitk.GetImageFromArray(array, isVector=vector)
    lps = FLIP_XY @ affine_ras
    spacing = np.linalg.norm(lps[:3, :3], axis=0)
    image.SetSpacing(spacing.tolist())
    image.SetDirection((lps[:3, :3] / spacing).ravel().tolist())
    image.SetOrigin(lps[:3, 3].tolist())
    return image


@pytest.fixture
def make_itk_image() -> Callable[[np.ndarray, np.ndarray], sitk.Image]:
    return itk_image


def _world_points(volume: Volume) -> tuple[np.ndarray, np.ndarray]:
    """World coordinates `(N, S)` of every voxel of channel 0 and its values `(N,)`."""
    grid = np.indices(volume.size_vox).reshape(volume.spatial_dims, -1)  # (S, N)
    homogeneous = np.vstack([grid, np.ones((1, grid.shape[1]))])
    world = (volume.affine @ homogeneous)[:-1].T  # (N, S) mm
    return world, volume.array[0].reshape(-1)


@pytest.fixture
def assert_same_physical() -> Callable[[Volume, Volume], None]:
    """Assert two volumes put the same values at the same world points (same voxel grid)."""

    def check(first: Volume, second: Volume) -> None:
        assert first.spatial_dims == second.spatial_dims
        world, values = _world_points(first)
        inverse = np.linalg.inv(second.affine)
        homogeneous = np.hstack([world, np.ones((world.shape[0], 1))])
        index = (inverse @ homogeneous.T)[:-1].T  # (N, S) voxel indices in `second`
        rounded = np.rint(index).astype(int)
        np.testing.assert_allclose(index, rounded, atol=1e-3)
        assert np.all(rounded >= 0) and np.all(rounded < np.array(second.size_vox))
        found = second.array[0][tuple(rounded.T)]
        np.testing.assert_array_equal(found, values)

    return check


@pytest.fixture
def ct_small_path() -> Path:
    return Path(get_testdata_file("CT_small.dcm"))


@pytest.fixture
def write_dicom_series() -> Callable[..., list[dict[str, Any]]]:
    """Write a small CT series into a folder by editing copies of pydicom's CT_small.dcm.

    Each slice is `rows x cols` int16 (pixels differ per slice), positions step by `spacing` mm
    along the normal of `orientation` (row direction, column direction; LPS). File names run
    against the slice order so readers must sort by position. Returns, per slice in position
    order: path, position (LPS), raw pixels `(rows, cols)`.
    """
    template = pydicom.dcmread(get_testdata_file("CT_small.dcm"))

    def write(
        folder: Path,
        *,
        count: int = 5,
        spacing: float = 2.5,
        rows: int = 10,
        cols: int = 12,
        pixel_spacing: tuple[float, float] = (0.7, 0.5),
        orientation: tuple[float, ...] = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0),
        origin: tuple[float, float, float] = (-30.0, -40.0, 12.5),
        series_uid: str | None = None,
        description: str = "tiny CT",
        prefix: str = "slice",
    ) -> list[dict[str, Any]]:
        folder.mkdir(parents=True, exist_ok=True)
        uid = series_uid or generate_uid()
        row_dir, col_dir = np.array(orientation[:3]), np.array(orientation[3:])
        normal = np.cross(row_dir, col_dir)
        base = np.arange(rows * cols, dtype=np.int16).reshape(rows, cols)
        slices = []
        for k in range(count):
            ds = copy.deepcopy(template)
            position = np.array(origin) + k * spacing * normal
            pixels = (base + 100 * k).astype(np.int16)
            ds.Rows, ds.Columns = rows, cols
            ds.PixelData = pixels.tobytes()
            ds.PixelSpacing = list(pixel_spacing)
            ds.ImageOrientationPatient = [float(v) for v in orientation]
            ds.ImagePositionPatient = [float(v) for v in position]
            ds.SliceLocation = float(position @ normal)
            ds.InstanceNumber = k + 1
            ds.SeriesInstanceUID = uid
            ds.SeriesDescription = description
            ds.SOPInstanceUID = generate_uid()
            ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
            path = folder / f"{prefix}_{count - k:03d}.dcm"
            ds.save_as(path, enforce_file_format=True)
            slices.append({"path": path, "position": position, "pixels": pixels, "uid": uid})
        return slices

    return write
