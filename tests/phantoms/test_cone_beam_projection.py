from __future__ import annotations

import numpy as np
import pytest

from anatomy_ssl.phantoms import make_ct_like_volume
from anatomy_ssl.phantoms.cone_beam_projection import cone_beam_projection
from anatomy_ssl.phantoms.radiograph_geometry import radiograph_geometry
from anatomy_ssl.phantoms.ray_casting import ray_cast_projection
from anatomy_ssl.phantoms.xray_attenuation import hu_to_attenuation


@pytest.mark.parametrize("distance", [150.0, 1000.0])
def test_plane_by_plane_equals_ray_by_ray(distance: float) -> None:
    volume = make_ct_like_volume((30, 24, 36), (2.0, 2.5, 3.0), seed=1)
    mu = hu_to_attenuation(volume.hu)
    ranks = {"level1": volume.label}
    geometry = radiograph_geometry(volume.affine, mu.shape, source_to_detector_mm=distance)
    integral, top = cone_beam_projection(mu, ranks, volume.affine, geometry)
    expected_integral, expected_top = ray_cast_projection(mu, ranks, volume.affine, geometry)
    np.testing.assert_allclose(integral, expected_integral, rtol=1e-6, atol=1e-9)
    np.testing.assert_array_equal(top["level1"], expected_top["level1"])


def test_a_parallel_geometry_is_refused() -> None:
    geometry = radiograph_geometry(np.eye(4), (2, 2, 2))
    with pytest.raises(ValueError, match="source"):
        cone_beam_projection(np.zeros((2, 2, 2), np.float32), {}, np.eye(4), geometry)
