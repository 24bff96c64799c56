from __future__ import annotations

import numpy as np
import pytest

from anatomy_ssl.phantoms.xray_attenuation import (
    MU_WATER_PER_MM,
    hu_to_attenuation,
    line_integral_to_display,
)


def test_air_water_and_bone_attenuation() -> None:
    mu = hu_to_attenuation(np.array([-1000.0, 0.0, 1000.0], dtype=np.float32))
    assert mu.dtype == np.float32
    np.testing.assert_allclose(mu, [0.0, MU_WATER_PER_MM, 2 * MU_WATER_PER_MM], rtol=1e-6)


def test_attenuation_is_never_negative_and_takes_integer_hu() -> None:
    mu = hu_to_attenuation(np.array([[-1100, -1000, -500]], dtype=np.int16), mu_water_per_mm=0.02)
    assert mu.shape == (1, 3)
    np.testing.assert_allclose(mu, [[0.0, 0.0, 0.01]], atol=1e-9)


def test_display_windows_the_optical_depth_by_its_maximum() -> None:
    depth = np.array([[0.0, 1.0], [2.0, 4.0]])
    display, white = line_integral_to_display(depth)
    assert white == 4.0
    assert display.dtype == np.float32
    np.testing.assert_allclose(display * white, depth, rtol=1e-6)


def test_display_clips_above_a_fixed_white_level() -> None:
    display, white = line_integral_to_display(np.array([0.5, 3.0]), white_level=2.0)
    assert white == 2.0
    np.testing.assert_allclose(display, [0.25, 1.0])


def test_display_of_an_empty_beam_is_black() -> None:
    display, white = line_integral_to_display(np.zeros((2, 3)))
    assert white == 1.0
    assert not display.any()


@pytest.mark.parametrize("white", [0.0, -1.0])
def test_display_refuses_a_non_positive_white_level(white: float) -> None:
    with pytest.raises(ValueError, match="white_level"):
        line_integral_to_display(np.ones(3), white_level=white)
