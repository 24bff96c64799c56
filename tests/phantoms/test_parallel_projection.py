from __future__ import annotations

import numpy as np

from anatomy_ssl.phantoms import make_ct_like_volume
from anatomy_ssl.phantoms.parallel_projection import parallel_projection
from anatomy_ssl.phantoms.radiograph_geometry import radiograph_geometry
from anatomy_ssl.phantoms.ray_casting import ray_cast_projection
from anatomy_ssl.phantoms.xray_attenuation import hu_to_attenuation


def _volume() -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]:
    volume = make_ct_like_volume((24, 20, 28), (2.0, 1.5, 2.5), seed=2)
    return hu_to_attenuation(volume.hu), {"level1": volume.label}, volume.affine


def test_native_grid_is_the_column_sum() -> None:
    mu, ranks, affine = _volume()
    integral, top = parallel_projection(mu, ranks, affine, radiograph_geometry(affine, mu.shape))
    assert integral.shape == (28, 24)
    np.testing.assert_allclose(integral[27 - 5, 23 - 7], mu[7, :, 5].sum() * 1.5, rtol=1e-6)
    assert top["level1"][27 - 5, 23 - 7] == ranks["level1"][7, :, 5].max()


def test_resampled_grid_matches_ray_casting_inside_the_volume() -> None:
    mu, ranks, affine = _volume()
    geometry = radiograph_geometry(affine, mu.shape, pixel_spacing_mm=0.9)
    integral, top = parallel_projection(mu, ranks, affine, geometry)
    expected, expected_top = ray_cast_projection(mu, ranks, affine, geometry)
    # Equal wherever bilinear interpolation stays between native pixel centres (not the rim).
    inner = (slice(2, -2), slice(2, -2))
    np.testing.assert_allclose(integral[inner], expected[inner], rtol=1e-5, atol=1e-7)
    assert (top["level1"][inner] == expected_top["level1"][inner]).mean() > 0.99
