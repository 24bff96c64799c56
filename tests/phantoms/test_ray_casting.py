from __future__ import annotations

import numpy as np

from anatomy_ssl.phantoms.radiograph_geometry import radiograph_geometry
from anatomy_ssl.phantoms.ray_casting import ray_cast_projection, ray_chunks

SIZE = (5, 4, 6)


def test_parallel_samples_are_the_voxel_centres_in_display_order() -> None:
    affine = np.diag([1.5, 2.0, 0.5, 1.0])
    geometry = radiograph_geometry(affine, SIZE)
    chunks = list(ray_chunks(geometry, affine, SIZE))
    assert len(chunks) == 1
    coords = chunks[0].voxel_coords  # (3, Z, X, Y)
    assert coords.shape == (3, 6, 5, 4)
    rows, cols, samples = np.indices(coords.shape[1:])
    np.testing.assert_allclose(coords[0], 4 - cols, atol=1e-9)
    np.testing.assert_allclose(coords[1], samples, atol=1e-9)
    np.testing.assert_allclose(coords[2], 5 - rows, atol=1e-9)
    np.testing.assert_allclose(chunks[0].step_mm, 2.0)


def test_chunks_cover_every_row_once_and_do_not_change_the_result() -> None:
    rng = np.random.default_rng(0)
    mu = rng.uniform(0, 0.03, SIZE).astype(np.float32)
    ranks = {"a": rng.integers(0, 4, SIZE).astype(np.uint8)}
    affine = np.diag([1.0, 1.0, 1.0, 1.0])
    geometry = radiograph_geometry(affine, SIZE, source_to_detector_mm=30.0)
    chunks = list(ray_chunks(geometry, affine, SIZE, max_samples=1))
    assert [chunk.rows.start for chunk in chunks] == list(range(geometry.shape[0]))
    # Oblique rays are longer than the volume's depth.
    assert (chunks[0].step_mm * chunks[0].voxel_coords.shape[-1] > SIZE[1]).all()
    whole = ray_cast_projection(mu, ranks, affine, geometry)
    assert whole[0].shape == geometry.shape and whole[1]["a"].dtype == np.uint8
    assert whole[0].max() > 0 and whole[1]["a"].max() == 3


def test_outside_the_volume_is_air() -> None:
    mu = np.ones(SIZE, dtype=np.float32)
    affine = np.eye(4)
    geometry = radiograph_geometry(affine, SIZE, pixel_spacing_mm=0.25)
    integral, _ = ray_cast_projection(mu, {}, affine, geometry)
    # Rays through the middle cross 4 mm of mu = 1; none gains anything outside the volume.
    assert integral.max() <= 4.0 + 1e-9
    np.testing.assert_allclose(integral[geometry.shape[0] // 2, geometry.shape[1] // 2], 4.0)
