import numpy as np
import pytest

from anatomy_ssl.transforms import AugmentationSpec, sample_augmentation


def test_none_samples_identity_parameters():
    params = sample_augmentation(AugmentationSpec.none(), 16, 3, np.random.default_rng(0))
    assert not params.flips.any()
    assert np.all(params.scale == 1.0) and np.all(params.shift == 0.0)
    assert np.all(params.gamma == 1.0)
    assert np.all(params.noise_std == 0.0) and np.all(params.blur_sigma == 0.0)


def test_config_lists_become_tuples():
    spec = AugmentationSpec(gamma_range=[0.8, 1.2])  # YAML gives lists
    assert spec.gamma_range == (0.8, 1.2)
    assert hash(spec) == hash(AugmentationSpec(gamma_range=(0.8, 1.2)))


@pytest.mark.parametrize(
    "changes",
    [
        {"flip_probability": 1.5},
        {"blur_probability": -0.1},
        {"intensity_scale": 1.0},
        {"intensity_shift": -0.1},
        {"noise_std_max": -1.0},
        {"blur_sigma_max_vox": -1.0},
        {"gamma_range": (1.5, 0.7)},
        {"gamma_range": (0.0, 1.0)},
    ],
)
def test_out_of_range_values_are_rejected(changes):
    with pytest.raises(ValueError, match=next(iter(changes))):
        AugmentationSpec(**changes)
