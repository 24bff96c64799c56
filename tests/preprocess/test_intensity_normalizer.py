import numpy as np
import pytest

from anatomy_ssl.preprocess import PreprocessSpec
from anatomy_ssl.preprocess.intensity_normalizer import foreground_mask, normalize_intensity


def test_ct_window_maps_to_unit_interval():
    hu = np.array([[-3000.0, -1000.0, 0.0, 1000.0, 3000.0]])
    out = normalize_intensity(hu, PreprocessSpec(ct_window_hu=(-1000.0, 1000.0)))
    assert out.dtype == np.float32
    assert np.allclose(out, [[0.0, 0.0, 0.5, 1.0, 1.0]])


def test_mri_minmax_clips_to_foreground_percentiles():
    rng = np.random.default_rng(0)
    image = np.zeros((1, 1000))
    image[0, 100:] = rng.uniform(100, 200, 900)
    image[0, 100] = 1e6  # an outlier
    spec = PreprocessSpec(intensity="mri", mri_percentiles=(1.0, 99.0))
    out = normalize_intensity(image, spec)
    assert out.min() == 0.0 and out.max() == 1.0
    low, high = np.percentile(image[0, 100:], [1.0, 99.0])  # zeros excluded
    assert np.isclose(out[0, 500], (np.clip(image[0, 500], low, high) - low) / (high - low))


def test_mri_zscore_has_zero_mean_unit_std_on_foreground():
    rng = np.random.default_rng(1)
    image = rng.normal(500, 50, (2, 4000))
    spec = PreprocessSpec(intensity="mri", mri_normalization="zscore", mri_percentiles=(0, 100))
    out = normalize_intensity(image, spec)
    assert np.allclose(out.mean(axis=1), 0, atol=1e-4)
    assert np.allclose(out.std(axis=1), 1, atol=1e-3)


@pytest.mark.parametrize("intensity", ["ct", "mri"])
def test_foreground_mask_thresholds(intensity):
    image = np.array([[[-1000.0, -900.0, -200.0, 40.0, 0.0, 500.0]]])
    spec = PreprocessSpec(intensity=intensity, spatial_dims=2)
    mask = foreground_mask(image, spec)
    if intensity == "ct":
        assert mask.tolist() == [[False, False, True, True, True, True]]
    else:  # above 10% of the 99.5th percentile of non-zero voxels
        assert mask.tolist() == [[False, False, False, False, False, True]]
