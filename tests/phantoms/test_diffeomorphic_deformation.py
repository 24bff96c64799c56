"""Scaling and squaring: images and points move together, the maps invert, the Jacobian is > 0."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import linalg
from scipy import ndimage as ndi

from anatomy_ssl.phantoms.diffeomorphic_deformation import (
    DiffeomorphicDeformation,
    compose_displacements,
    exponentiate_velocity,
    identity_grid,
    jacobian_determinant,
    sample_displacement,
)
from anatomy_ssl.phantoms.random_velocity_field import VelocityFieldParameters

SIZE = (40, 44, 36)
SPACING_MM = 2.0


def _affine(size: tuple[int, int, int]) -> np.ndarray:
    """A grid of SIZE's field of view (corner-aligned) with `size` voxels."""
    scale = (np.asarray(SIZE) - 1) * SPACING_MM / (np.asarray(size) - 1)
    affine = np.diag([*scale, 1.0])
    affine[:3, 3] = -(np.asarray(SIZE) - 1) * SPACING_MM / 2
    return affine


def _random_deformation(seed: int, *, coarse: bool) -> DiffeomorphicDeformation:
    params = VelocityFieldParameters.sample(
        np.random.default_rng(seed), center_mm=np.zeros(3), amplitude_mm=2.5
    )
    if not coarse:
        return DiffeomorphicDeformation.from_velocity(params.velocity_vox(_affine(SIZE), SIZE))
    grid = (20, 22, 18)
    return DiffeomorphicDeformation.from_velocity(
        params.velocity_vox(_affine(grid), grid), size_vox=SIZE
    )


@pytest.fixture(scope="module", params=[False, True], ids=["full-grid", "coarse-grid"])
def deformation(request: pytest.FixtureRequest) -> DiffeomorphicDeformation:
    return _random_deformation(7, coarse=request.param)


def test_the_deformation_is_large_enough_to_matter(deformation: DiffeomorphicDeformation) -> None:
    assert deformation.size_vox == SIZE
    assert float(np.abs(deformation.forward_vox).max()) > 2.0  # voxels


@pytest.mark.parametrize("point", [(12.3, 20.6, 17.2), (27.8, 15.1, 20.4), (20.0, 30.5, 11.7)])
def test_a_blob_is_drawn_where_its_point_is_carried(
    deformation: DiffeomorphicDeformation, point: tuple[float, float, float]
) -> None:
    """Warp a small bright blob at template point p: it appears around phi(p).

    The centroid is taken over the blob's core (values above 0.3): over the whole blob, a
    Jacobian that varies across it shifts the centroid a little towards the expanding side.
    """
    offsets = identity_grid(SIZE) - np.asarray(point, dtype=np.float32)[:, None, None, None]
    blob = np.exp(-np.sum(offsets**2, axis=0) / (2 * 1.2**2)).astype(np.float32)
    warped = deformation.warp(blob, order=1)
    centroid = np.asarray(ndi.center_of_mass(np.maximum(warped - 0.3, 0.0)))
    carried = deformation.map_points(np.asarray([point]))[0]
    assert np.linalg.norm(carried - np.asarray(point)) > 0.5  # it did move
    assert np.linalg.norm(centroid - carried) < 0.5  # voxels


def test_points_are_solved_against_the_field_that_warps_images(
    deformation: DiffeomorphicDeformation,
) -> None:
    points = np.random.default_rng(0).uniform(8, 28, size=(50, 3))
    carried = deformation.map_points(points)
    np.testing.assert_allclose(deformation.map_points_inverse(carried), points, atol=1e-3)


def test_forward_and_backward_maps_are_inverse(deformation: DiffeomorphicDeformation) -> None:
    """phi(phi^-1(x)) = x and phi^-1(phi(x)) = x away from the border (extrapolated there)."""
    grid = identity_grid(SIZE)
    inner = (slice(None), slice(6, -6), slice(6, -6), slice(6, -6))
    for first, second in (
        (deformation.backward_vox, deformation.forward_vox),
        (deformation.forward_vox, deformation.backward_vox),
    ):
        moved = grid + first
        back = moved + sample_displacement(second, moved)
        assert float(np.abs(back - grid)[inner].max()) < 0.25  # voxels


def test_jacobian_determinant_is_positive_everywhere(
    deformation: DiffeomorphicDeformation,
) -> None:
    jacobian = deformation.jacobian_determinant()
    assert jacobian.shape == SIZE
    assert float(jacobian.min()) > 0.0
    assert float(jacobian.std()) > 0.02  # not a rigid motion


def test_large_velocity_stays_diffeomorphic() -> None:
    params = VelocityFieldParameters.sample(
        np.random.default_rng(3), center_mm=np.zeros(3), amplitude_mm=6.0
    )
    displacement = exponentiate_velocity(params.velocity_vox(_affine(SIZE), SIZE))
    assert float(np.abs(displacement).max()) > 5.0
    assert float(jacobian_determinant(displacement).min()) > 0.0


def test_constant_velocity_is_a_translation() -> None:
    velocity = np.broadcast_to(
        np.array([1.5, -0.75, 2.0], dtype=np.float32)[:, None, None, None], (3, *SIZE)
    )
    displacement = exponentiate_velocity(np.ascontiguousarray(velocity), squaring_steps=5)
    np.testing.assert_allclose(
        displacement[:, 8:-8, 8:-8, 8:-8], velocity[:, 8:-8, 8:-8, 8:-8], atol=1e-4
    )


def test_linear_velocity_exponentiates_to_the_matrix_exponential() -> None:
    """v(x) = L (x - c) integrates to x -> c + expm(L) (x - c)."""
    gradient = np.array([[0.05, -0.04, 0.0], [0.04, 0.03, 0.01], [0.0, -0.01, -0.04]])
    center = (np.asarray(SIZE, dtype=float) - 1) / 2
    grid = identity_grid(SIZE).astype(np.float64)
    relative = grid - center[:, None, None, None]
    velocity = np.einsum("ab,bxyz->axyz", gradient, relative).astype(np.float32)
    displacement = exponentiate_velocity(velocity, squaring_steps=8)
    expected = np.einsum("ab,bxyz->axyz", linalg.expm(gradient), relative) - relative
    inner = (slice(None), slice(10, -10), slice(10, -10), slice(10, -10))
    np.testing.assert_allclose(displacement[inner], expected[inner], atol=0.02)


def test_zero_velocity_is_the_identity() -> None:
    deformation = DiffeomorphicDeformation.from_velocity(np.zeros((3, 8, 9, 10), np.float32))
    assert not deformation.forward_vox.any() and not deformation.backward_vox.any()
    labels = np.random.default_rng(0).integers(0, 4, size=(8, 9, 10)).astype(np.uint8)
    assert np.array_equal(deformation.warp(labels, order=0), labels)
    np.testing.assert_allclose(deformation.jacobian_determinant(), 1.0)


def test_composition_with_zero_keeps_the_field() -> None:
    field = np.random.default_rng(0).normal(0, 0.5, size=(3, 6, 7, 8)).astype(np.float32)
    zero = np.zeros_like(field)
    np.testing.assert_allclose(compose_displacements(zero, field), field)
    np.testing.assert_allclose(compose_displacements(field, zero), field)


def test_label_warp_keeps_dtype_and_label_set(deformation: DiffeomorphicDeformation) -> None:
    labels = np.zeros(SIZE, dtype=np.uint8)
    labels[10:30, 10:34, 8:28] = 1
    labels[15:25, 15:28, 12:22] = 2
    warped = deformation.warp(labels, order=0)
    assert warped.dtype == np.uint8
    assert set(np.unique(warped).tolist()) == {0, 1, 2}


def test_warp_rejects_another_grid(deformation: DiffeomorphicDeformation) -> None:
    with pytest.raises(ValueError, match="grid"):
        deformation.warp(np.zeros((5, 5, 5), np.float32), order=1)
