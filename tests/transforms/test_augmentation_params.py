import numpy as np

from anatomy_ssl.transforms import AugmentationSpec, sample_augmentation


def test_parameters_have_per_sample_shapes_and_stay_in_their_ranges():
    spec = AugmentationSpec()
    params = sample_augmentation(spec, 4000, 3, np.random.default_rng(0))
    assert params.batch_size == 4000 and params.spatial_dims == 3
    assert params.flips.shape == (4000, 3) and params.flips.dtype == bool
    assert abs(params.flips.mean() - 0.5) < 0.03
    assert np.all(np.abs(params.scale - 1.0) <= spec.intensity_scale)
    assert np.all(np.abs(params.shift) <= spec.intensity_shift)
    low, high = spec.gamma_range
    assert np.all((params.gamma >= low) & (params.gamma <= high))
    assert np.all((params.noise_std >= 0) & (params.noise_std <= spec.noise_std_max))
    blurred = params.blur_sigma > 0
    assert abs(blurred.mean() - spec.blur_probability) < 0.03
    assert params.blur_sigma.max() <= spec.blur_sigma_max_vox
    assert isinstance(params.noise_seed, int)


def test_the_random_stream_advances_the_same_whatever_the_spec():
    strong, weak = np.random.default_rng(1), np.random.default_rng(1)
    sample_augmentation(AugmentationSpec(), 8, 2, strong)
    sample_augmentation(AugmentationSpec.none(), 8, 2, weak)
    assert strong.random() == weak.random()
