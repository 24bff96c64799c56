"""MRI appearance: contrast stays in [0, 1], bias is smooth and bounded, noise is Rician."""

from __future__ import annotations

import numpy as np
import pytest

from anatomy_ssl.phantoms.mri_appearance import MriAppearance


def _appearance(seed: int = 0, **kwargs: float) -> MriAppearance:
    return MriAppearance.sample(np.random.default_rng(seed), **kwargs)


def test_sampling_is_deterministic_and_white_matter_is_the_reference() -> None:
    first, second = _appearance(3), _appearance(3)
    assert first.tissue_gain == second.tissue_gain and first.gamma == second.gamma
    assert np.array_equal(first.log_bias_control, second.log_bias_control)
    assert first.tissue_gain[2] == 1.0
    assert 700.0 <= first.intensity_scale <= 1000.0


def test_tissue_contrast_stays_in_unit_range() -> None:
    rng = np.random.default_rng(0)
    t1 = rng.uniform(0, 1, size=(6, 7, 8)).astype(np.float32)
    grey = rng.uniform(0, 0.5, size=t1.shape).astype(np.float32)
    white = (0.5 * rng.uniform(0, 1, size=t1.shape)).astype(np.float32)
    image = _appearance(1, contrast_sd=0.5).tissue_contrast(t1, grey, white)
    assert image.dtype == np.float32
    assert float(image.min()) >= 0.0 and float(image.max()) <= 1.0


@pytest.mark.parametrize("strength", [0.15, 0.3])
def test_bias_field_is_bounded_by_its_strength(strength: float) -> None:
    for seed in range(5):
        bias = _appearance(seed, bias_strength=strength).bias_field((20, 24, 18))
        assert bias.shape == (20, 24, 18) and bias.dtype == np.float32
        assert 1.0 / (1.0 + strength) <= float(bias.min())
        assert float(bias.max()) <= 1.0 + strength
        assert float(bias.max() - bias.min()) > 0.01  # not flat


def test_background_noise_is_rayleigh_and_the_image_non_negative() -> None:
    appearance = _appearance(2)
    image = np.zeros((40, 40, 40), dtype=np.float32)
    image[10:30, 10:30, 10:30] = 0.8
    acquired = appearance.acquire(image, np.random.default_rng(0))
    assert acquired.dtype == np.float32 and float(acquired.min()) >= 0.0
    background = acquired[image == 0]
    expected_mean = appearance.noise_sigma * np.sqrt(np.pi / 2)  # Rayleigh
    assert float(background.mean()) == pytest.approx(expected_mean, rel=0.05)
    inside = acquired[15:25, 15:25, 15:25]
    assert 0.5 * appearance.intensity_scale < float(np.median(inside)) < appearance.intensity_scale


def test_noise_comes_from_the_given_stream() -> None:
    appearance = _appearance(4)
    image = np.full((8, 8, 8), 0.5, dtype=np.float32)
    first = appearance.acquire(image, np.random.default_rng(9))
    assert np.array_equal(first, appearance.acquire(image, np.random.default_rng(9)))
    assert not np.array_equal(first, appearance.acquire(image, np.random.default_rng(10)))
