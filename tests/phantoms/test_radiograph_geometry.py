from __future__ import annotations

import numpy as np
import pytest

from anatomy_ssl.phantoms.radiograph_geometry import (
    is_axis_aligned_ras,
    radiograph_geometry,
    volume_corners_mm,
)

SIZE = (6, 5, 8)  # (X, Y, Z)


def _affine(spacing: tuple[float, float, float], origin: tuple[float, float, float]) -> np.ndarray:
    affine = np.diag([*spacing, 1.0])
    affine[:3, 3] = origin
    return affine


def _voxel_centres_mm(affine: np.ndarray, voxels: np.ndarray) -> np.ndarray:
    return voxels @ affine[:3, :3].T + affine[:3, 3]


def test_default_grid_puts_pixel_centres_on_voxel_rays_in_display_order() -> None:
    affine = _affine((0.8, 1.3, 2.5), (-3.0, 7.0, 11.0))
    geometry = radiograph_geometry(affine, SIZE)
    assert geometry.shape == (SIZE[2], SIZE[0])
    assert geometry.source_mm is None
    # Column c sees voxel i = X-1-c (patient's Right on the left), row r voxel k = Z-1-r (head up).
    i, k = np.meshgrid(np.arange(SIZE[0]), np.arange(SIZE[2]), indexing="ij")
    voxels = np.stack([i.ravel(), np.full(i.size, 2), k.ravel()], axis=1).astype(float)
    pixels = geometry.world_to_pixel(_voxel_centres_mm(affine, voxels))
    np.testing.assert_allclose(pixels[:, 0], SIZE[2] - 1 - voxels[:, 2], atol=1e-9)
    np.testing.assert_allclose(pixels[:, 1], SIZE[0] - 1 - voxels[:, 0], atol=1e-9)
    # The affine: columns step 0.8 mm along u = -x, rows 2.5 mm along v = -z.
    np.testing.assert_allclose(geometry.affine[:2, :2], [[0.0, 0.8], [2.5, 0.0]])


def test_affine_maps_a_projected_point_back_to_minus_x_minus_z() -> None:
    affine = _affine((1.0, 1.0, 2.0), (-10.0, -20.0, -30.0))
    geometry = radiograph_geometry(affine, SIZE, pixel_spacing_mm=0.7)
    points = np.array([[-8.2, -18.0, -25.5], [-6.0, -15.0, -17.0]])
    pixels = geometry.world_to_pixel(points)  # (2, 2)
    plane = np.c_[pixels, np.ones(2)] @ geometry.affine.T
    np.testing.assert_allclose(plane[:, :2], -points[:, [0, 2]])
    np.testing.assert_allclose(geometry.affine[:2, :2], [[0.0, 0.7], [0.7, 0.0]])


def test_detector_covers_the_volume_and_is_centred_on_it() -> None:
    affine = _affine((1.0, 1.0, 1.5), (0.0, 0.0, 0.0))
    geometry = radiograph_geometry(affine, SIZE, pixel_spacing_mm=0.4)
    assert geometry.shape == (30, 15)  # ceil(8 * 1.5 / 0.4), ceil(6 / 0.4)
    corners = volume_corners_mm(affine, SIZE)
    points = geometry.detector_points_mm()  # (H, W, 3)
    np.testing.assert_allclose(points[..., 1], corners[:, 1].max())  # the anterior face
    centre = points.reshape(-1, 3).mean(axis=0)
    np.testing.assert_allclose(centre[[0, 2]], corners.mean(axis=0)[[0, 2]], atol=1e-9)


def test_perspective_magnifies_about_the_central_ray() -> None:
    affine = _affine((1.0, 1.0, 1.0), (-2.5, -2.0, -3.5))  # centre (0, 0, 0), y in [-2.5, 2.5]
    geometry = radiograph_geometry(affine, SIZE, source_to_detector_mm=100.0)
    assert geometry.source_mm is not None
    np.testing.assert_allclose(geometry.source_mm, [0.0, 2.5 - 100.0, 0.0])
    # A point 50 mm in front of the source is magnified 100 / 50 = 2 times on the detector.
    point = np.array([[1.0, 2.5 - 50.0, -2.0]])
    plane = np.c_[geometry.world_to_pixel(point), 1.0] @ geometry.affine.T
    np.testing.assert_allclose(plane[0, :2], [-2.0, 4.0])
    # The magnified shadow needs more pixels than the volume has voxels.
    assert geometry.shape[0] > SIZE[2] and geometry.shape[1] > SIZE[0]
    directions = geometry.ray_directions(geometry.detector_points_mm())
    np.testing.assert_allclose(directions[..., 1], 1.0)


def test_points_behind_the_source_do_not_project() -> None:
    geometry = radiograph_geometry(np.eye(4), SIZE, source_to_detector_mm=50.0)
    assert np.isnan(geometry.world_to_pixel(np.array([[0.0, -100.0, 0.0]]))).all()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"source_to_detector_mm": 4.0}, "outside"),
        ({"pixel_spacing_mm": 0.0}, "positive"),
    ],
)
def test_bad_geometry_is_refused(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        radiograph_geometry(np.eye(4), SIZE, **kwargs)


def test_axis_alignment() -> None:
    assert is_axis_aligned_ras(_affine((0.5, 1.0, 3.0), (1.0, 2.0, 3.0)))
    assert not is_axis_aligned_ras(np.diag([-1.0, 1.0, 1.0, 1.0]))
    rotated = np.eye(4)
    rotated[:2, :2] = [[np.cos(0.1), -np.sin(0.1)], [np.sin(0.1), np.cos(0.1)]]
    assert not is_axis_aligned_ras(rotated)
