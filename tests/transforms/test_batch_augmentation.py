from dataclasses import replace

import numpy as np
import pytest
import torch

from anatomy_ssl.transforms import (
    AugmentationParams,
    AugmentationSpec,
    apply_augmentation,
    sample_augmentation,
)


def _identity(batch: int, spatial_dims: int, **changes: object) -> AugmentationParams:
    params = sample_augmentation(
        AugmentationSpec.none(), batch, spatial_dims, np.random.default_rng(0)
    )
    return replace(params, **changes)


def _images(batch: int = 4, channels: int = 2, size: tuple[int, ...] = (8, 10, 12)):
    generator = torch.Generator().manual_seed(0)
    return torch.rand((batch, channels, *size), generator=generator)


@pytest.mark.parametrize("size", [(8, 10, 12), (16, 14)])
def test_replaying_recorded_parameters_gives_identical_views(size):
    x = _images(size=size)
    params = sample_augmentation(
        AugmentationSpec(blur_probability=1.0, noise_std_max=0.1),
        4,
        len(size),
        np.random.default_rng(1),
    )
    first = apply_augmentation(x, params)
    assert first.shape == x.shape and first.dtype == x.dtype
    assert not torch.equal(first, x)
    assert torch.equal(apply_augmentation(x.clone(), params), first)
    assert torch.equal(x, _images(size=size))  # the input is left alone


def test_no_augmentation_is_the_identity():
    x = _images()
    params = sample_augmentation(AugmentationSpec.none(), 4, 3, np.random.default_rng(2))
    assert torch.equal(apply_augmentation(x, params), x)


def test_flips_are_exact_reversals_per_sample_and_axis():
    x = _images(batch=3)
    flips = np.array([[True, False, False], [False, True, True], [False, False, False]])
    out = apply_augmentation(x, _identity(3, 3, flips=flips))
    assert torch.equal(out[0], x[0].flip(1))
    assert torch.equal(out[1], x[1].flip(2, 3))
    assert torch.equal(out[2], x[2])
    assert torch.equal(apply_augmentation(out, _identity(3, 3, flips=flips)), x)


def test_scale_and_shift_move_mean_and_std_as_stated():
    x = _images(batch=2)
    out = apply_augmentation(
        x, _identity(2, 3, scale=np.array([1.1, 0.9]), shift=np.array([0.1, -0.05]))
    )
    for b, (scale, shift) in enumerate([(1.1, 0.1), (0.9, -0.05)]):
        assert torch.isclose(out[b].mean(), x[b].mean() * scale + shift, atol=1e-5)
        assert torch.isclose(out[b].std(), x[b].std() * scale, atol=1e-5)


def test_noise_adds_the_requested_standard_deviation_to_chosen_samples_only():
    x = torch.zeros((2, 1, 32, 32, 32))
    out = apply_augmentation(x, _identity(2, 3, noise_std=np.array([0.2, 0.0])))
    assert abs(out[0].std().item() - 0.2) < 0.005 and abs(out[0].mean().item()) < 0.005
    assert torch.equal(out[1], x[1])


def test_gamma_keeps_each_channel_range_and_order_and_darkens_above_one():
    x = _images(batch=2)
    out = apply_augmentation(x, _identity(2, 3, gamma=np.array([1.5, 1.0])))
    dims = (1, 2, 3)
    assert torch.allclose(out[0].amin(dim=dims), x[0].amin(dim=dims), atol=1e-6)
    assert torch.allclose(out[0].amax(dim=dims), x[0].amax(dim=dims), atol=1e-6)
    assert out[0].mean() < x[0].mean()
    order = x[0, 0].flatten().argsort()
    assert torch.all(out[0, 0].flatten()[order].diff() >= 0)  # monotone
    assert torch.equal(out[1], x[1])


def test_blur_smooths_keeps_constants_and_leaves_sigma_zero_samples_alone():
    x = _images(batch=3)
    x[2] = 0.7
    sigma = np.array([1.0, 0.0, 2.0])
    out = apply_augmentation(x, _identity(3, 3, blur_sigma=sigma))
    assert out[0].std() < 0.6 * x[0].std()
    assert torch.isclose(out[0].mean(), x[0].mean(), atol=0.01)
    assert torch.equal(out[1], x[1])
    assert torch.allclose(out[2], x[2])


def test_blur_of_an_impulse_is_a_normalized_gaussian():
    x = torch.zeros((1, 1, 15, 15))
    x[0, 0, 7, 7] = 1.0
    out = apply_augmentation(x, _identity(1, 2, blur_sigma=np.array([1.5])))
    assert torch.isclose(out.sum(), torch.tensor(1.0), atol=1e-5)
    taps = torch.arange(-7, 8, dtype=torch.float32)
    gauss = torch.exp(-0.5 * (taps / 1.5) ** 2)
    gauss = torch.where(taps.abs() <= 5, gauss, 0.0)  # radius ceil(3 * 1.5) = 5
    gauss = gauss / gauss.sum()
    assert torch.allclose(out[0, 0], gauss[:, None] * gauss[None, :], atol=1e-6)


def test_mismatched_shapes_are_rejected():
    params = _identity(4, 3)
    with pytest.raises(ValueError, match="spatial axes"):
        apply_augmentation(torch.zeros((4, 1, 8, 8)), params)
    with pytest.raises(ValueError, match="4 samples"):
        apply_augmentation(torch.zeros((3, 1, 8, 8, 8)), params)
