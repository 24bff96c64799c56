"""Known-answer tests of `register_affine`: every volume samples one analytic RAS phantom, the
moving ones through a known affine, on grids with their own (anisotropic, flipped, permuted)
affines, so any RAS/LPS or array-axis-order mistake shows up as a wrong matrix."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from anatomy_ssl.anatomy.affine_registration import (
    AffineRegistration,
    RegistrationError,
    register_affine,
    to_itk_image,
)
from support.coordinate_volumes import write_test_entry

# Phantom in RAS mm: (centre, semi-axes, intensity) of smooth ellipsoids, painted in order on a
# background of 0. Asymmetric on every axis, so a mirrored or rotated fit is visibly wrong.
BLOBS = [
    ((0.0, 0.0, 0.0), (45.0, 38.0, 62.0), 0.4),  # body
    ((18.0, 6.0, 12.0), (18.0, 14.0, 20.0), 0.7),  # a right-side organ
    ((0.0, -24.0, 0.0), (7.0, 7.0, 55.0), 1.0),  # a posterior "spine"
    ((-20.0, -8.0, -22.0), (9.0, 7.0, 13.0), 0.85),  # a left, inferior organ
    ((-14.0, 8.0, 36.0), (13.0, 13.0, 16.0), 0.1),  # a dark, left, superior "lung"
]
EDGE_MM = 2.0  # width of the smooth edge of each ellipsoid

FIXED_SIZE = (40, 36, 44)
FIXED_AFFINE = np.array(
    [[3.0, 0, 0, -58.5], [0, 3.5, 0, -61.25], [0, 0, 4.0, -86.0], [0, 0, 0, 1]]
)  # voxel centre of the grid ~ world origin
MOVING_SIZE = (42, 40, 50)
MOVING_AFFINE = np.array([[3.2, 0, 0, -64.0], [0, 3.2, 0, -60.0], [0, 0, 3.6, -86.0], [0, 0, 0, 1]])


def _rotation(axis: int, degrees: float) -> np.ndarray:
    a, b = [i for i in range(3) if i != axis]
    c, s = np.cos(np.radians(degrees)), np.sin(np.radians(degrees))
    matrix = np.eye(4)
    matrix[[a, a, b, b], [a, b, a, b]] = [c, -s, s, c]
    return matrix


# Fixed RAS mm -> moving RAS mm: a scale of 1.05, rotations of 5 and -3 degrees, a shift of ~11 mm.
KNOWN = _rotation(2, 5.0) @ _rotation(0, -3.0) @ np.diag([1.05, 1.05, 1.05, 1.0])
KNOWN[:3, 3] = [8.0, -6.0, 5.0]


def _phantom(points_mm: np.ndarray) -> np.ndarray:
    """Intensity at `(..., 3)` RAS mm points."""
    image = np.zeros(points_mm.shape[:-1])
    for centre, axes, value in BLOBS:
        radius = np.linalg.norm((points_mm - centre) / axes, axis=-1)  # 1 on the surface
        inside = 1.0 / (1.0 + np.exp((radius - 1.0) * min(axes) / EDGE_MM))
        image = image * (1 - inside) + value * inside
    return image


def _grid_mm(size: tuple[int, ...], affine: np.ndarray) -> np.ndarray:
    """`(*size, S)` world mm of every voxel: array index (i, j, k) -> affine @ (i, j, k, 1)."""
    index = np.stack(np.meshgrid(*[np.arange(n) for n in size], indexing="ij"), axis=-1)
    dims = len(size)
    return index @ affine[:dims, :dims].T + affine[:dims, dims]


def _volume(folder, subject_id, size, affine, fixed_to_moving=None, *, constant=False):
    """A cache entry of the phantom on a grid; with `fixed_to_moving`, the anatomy at fixed point
    x sits at `fixed_to_moving @ x` in this volume."""
    world = _grid_mm(size, affine)
    if fixed_to_moving is not None:
        moving_to_fixed = np.linalg.inv(fixed_to_moving)
        world = world @ moving_to_fixed[:3, :3].T + moving_to_fixed[:3, 3]
    image = np.zeros(size) if constant else _phantom(world)
    spacing = np.linalg.norm(affine[:3, :3], axis=0).tolist()
    return write_test_entry(folder, subject_id, image[None].astype(np.float32), affine, spacing)


def _body_points(count: int, seed: int) -> np.ndarray:
    """`(count, 3)` random RAS mm points inside the phantom's body."""
    rng = np.random.default_rng(seed)
    unit = rng.normal(size=(count, 3))
    unit *= (rng.random((count, 1)) ** (1 / 3)) / np.linalg.norm(unit, axis=1, keepdims=True)
    return 0.9 * unit * BLOBS[0][1] + BLOBS[0][0]


def _assert_recovers(result: AffineRegistration, expected: np.ndarray, tolerance_mm: float):
    points = np.concatenate([_body_points(20, 0), np.array([blob[0] for blob in BLOBS])])
    truth = points @ expected[:3, :3].T + expected[:3, 3]
    error = np.linalg.norm(result.map_points(points) - truth, axis=1)
    assert error.max() < tolerance_mm, (error.max(), result)


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    folder = tmp_path_factory.mktemp("affine-registration")
    fixed = _volume(folder, "fixed", FIXED_SIZE, FIXED_AFFINE)
    moving = _volume(folder, "moving", MOVING_SIZE, MOVING_AFFINE, KNOWN)
    return folder, fixed, moving


@pytest.fixture(scope="module")
def known_result(pair):
    _, fixed, moving = pair
    return register_affine(fixed, moving)


def test_the_itk_image_keeps_the_array_axis_order_and_turns_ras_into_lps():
    # Axes permuted and one flipped: array axis 0 runs along -z, axis 1 along x, axis 2 along y.
    affine = np.array([[0, 2.0, 0, 10.0], [0, 0, 3.0, -20.0], [-4.0, 0, 0, 30.0], [0, 0, 0, 1]])
    array = np.arange(4 * 5 * 6, dtype=np.float32).reshape(4, 5, 6)
    image = to_itk_image(array, affine)
    assert image.GetSize() == (4, 5, 6) and image.GetSpacing() == (4.0, 2.0, 3.0)
    for index in [(0, 0, 0), (3, 1, 2), (1, 4, 5)]:
        assert image.GetPixel(index) == array[index]
        ras = affine @ [*index, 1.0]
        lps = [-ras[0], -ras[1], ras[2]]
        np.testing.assert_allclose(image.TransformIndexToPhysicalPoint(index), lps)


def test_a_known_affine_is_recovered_within_one_voxel_in_seconds(pair, known_result):
    _, fixed, moving = pair
    _assert_recovers(known_result, KNOWN, max(fixed.spacing_mm + moving.spacing_mm))
    assert known_result.fixed_to_moving_mm.shape == (4, 4)
    np.testing.assert_allclose(known_result.fixed_to_moving_mm[:3, :3], KNOWN[:3, :3], atol=0.02)
    assert -1 <= known_result.metric_value < -0.9  # minus the squared correlation
    assert known_result.iterations > 0 and known_result.stop_reason
    assert known_result.seconds < 10


def test_a_volume_registered_to_itself_gives_the_identity(pair):
    _, fixed, _ = pair
    result = register_affine(fixed, fixed)
    np.testing.assert_allclose(result.fixed_to_moving_mm, np.eye(4), atol=1e-2)


def test_flipped_and_permuted_grids_of_the_same_anatomy_give_the_same_world_matrix(pair):
    folder, _, _ = pair
    # Fixed: axis 0 runs right-to-left (negative diagonal entry). Moving: array axes are
    # (z, x, y) with y flipped, so neither array looks like the other one.
    flipped = FIXED_AFFINE.copy()
    flipped[0, 0], flipped[0, 3] = -3.0, 58.5
    permuted = np.array([[0, 3.2, 0, -64.0], [0, 0, -3.2, 64.0], [3.6, 0, 0, -86.0], [0, 0, 0, 1]])
    fixed = _volume(folder, "fixed-flipped", FIXED_SIZE, flipped)
    moving = _volume(folder, "moving-permuted", (50, 42, 40), permuted, KNOWN)
    result = register_affine(fixed, moving)
    _assert_recovers(result, KNOWN, max(fixed.spacing_mm + moving.spacing_mm))


def test_a_fixed_mask_restricts_the_metric_and_still_recovers_the_transform(pair):
    _, fixed, moving = pair
    world = _grid_mm(FIXED_SIZE, FIXED_AFFINE)
    mask = np.linalg.norm((world - [0.0, 0.0, 20.0]) / [50.0, 45.0, 45.0], axis=-1) < 1
    assert 0.1 < mask.mean() < 0.5  # the upper part of the body only
    result = register_affine(fixed, moving, fixed_mask=mask)
    _assert_recovers(result, KNOWN, max(fixed.spacing_mm + moving.spacing_mm))
    with pytest.raises(ValueError, match="fixed_mask"):
        register_affine(fixed, moving, fixed_mask=mask[:-1])


def test_a_prior_shrink_keeps_the_geometry_and_the_mask(pair):
    _, fixed, moving = pair
    world = _grid_mm(FIXED_SIZE, FIXED_AFFINE)
    mask = np.linalg.norm((world - [0.0, 0.0, 20.0]) / [50.0, 45.0, 45.0], axis=-1) < 1
    for fixed_mask in (None, mask):
        result = register_affine(
            fixed,
            moving,
            fixed_mask=fixed_mask,
            prior_shrink=2,
            shrink_factors=(2, 1),
            smoothing_sigmas_vox=(1, 0),
        )
        # ~1 mm; block averages placed at a block's first voxel instead of its centre: ~4.7 mm
        _assert_recovers(result, KNOWN, 2.0)
    with pytest.raises(ValueError, match="prior_shrink must be >= 1"):
        register_affine(fixed, moving, prior_shrink=0)


def test_a_constant_moving_image_raises_a_registration_error_naming_both_subjects(pair):
    folder, fixed, _ = pair
    blank = _volume(folder, "blank", MOVING_SIZE, MOVING_AFFINE, constant=True)
    with pytest.raises(RegistrationError, match=r"'blank'.*'fixed'") as caught:
        register_affine(fixed, blank)
    assert caught.value.fixed_subject == "fixed" and caught.value.moving_subject == "blank"
    assert caught.value.reason


def test_a_stretch_beyond_the_bounds_is_rejected_as_degenerate(pair):
    folder, fixed, _ = pair
    shrunk = KNOWN.copy()
    shrunk[:3, :3] *= 0.4 / 1.05  # the moving anatomy is 0.4 times the fixed one's size
    moving = _volume(folder, "shrunk", MOVING_SIZE, MOVING_AFFINE, shrunk)
    with pytest.raises(RegistrationError, match=r"scale .* outside \[0\.5, 2\.0\]"):
        register_affine(fixed, moving)


def test_two_runs_give_identical_matrices(pair, known_result):
    _, fixed, moving = pair
    again = register_affine(fixed, moving)
    np.testing.assert_array_equal(again.fixed_to_moving_mm, known_result.fixed_to_moving_mm)
    assert again.metric_value == known_result.metric_value


def test_the_thread_count_is_the_callers_not_the_global_defaults(pair):
    _, fixed, moving = pair
    default = sitk.ProcessObject.GetGlobalDefaultNumberOfThreads()
    try:
        sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(1)
        global_one = register_affine(fixed, moving, iterations=20)
        sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(4)
        asked_one = register_affine(fixed, moving, iterations=20, threads=1)
    finally:
        sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(default)
    np.testing.assert_array_equal(asked_one.fixed_to_moving_mm, global_one.fixed_to_moving_mm)
    with pytest.raises(ValueError, match="threads must be >= 1"):
        register_affine(fixed, moving, threads=0)


def test_two_dimensional_images_register_in_the_image_plane(tmp_path):
    affine = np.array([[2.0, 0, -60.0], [0, 2.5, -70.0], [0, 0, 1]])
    known = np.eye(3)
    known[:2, :2] = _rotation(2, 4.0)[:2, :2] * 1.03
    known[:2, 2] = [-5.0, 7.0]
    world = _grid_mm((60, 56), affine)
    moved = (world - known[:2, 2]) @ np.linalg.inv(known[:2, :2]).T
    plane = [(0.0, 0.0), (18.0, 6.0), (0.0, -24.0), (-20.0, -8.0), (-14.0, 8.0)]
    images = []
    for points in (world, moved):
        volume_points = np.concatenate([points, np.zeros((*points.shape[:-1], 1))], axis=-1)
        images.append(_phantom(volume_points))  # the phantom's axial plane z = 0
    fixed = write_test_entry(tmp_path, "f2d", images[0][None].astype(np.float32), affine)
    moving = write_test_entry(tmp_path, "m2d", images[1][None].astype(np.float32), affine)
    result = register_affine(fixed, moving)
    truth = np.array(plane) @ known[:2, :2].T + known[:2, 2]
    error = np.linalg.norm(result.map_points(np.array(plane)) - truth, axis=1)
    assert result.fixed_to_moving_mm.shape == (3, 3) and error.max() < 2.5  # one pixel
