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


def _reference_augmentation(x: torch.Tensor, params: AugmentationParams) -> torch.Tensor:
    """The plain implementation the vectorized one must match bit for bit: whole-batch clones,
    both gamma branches, out-of-place arithmetic."""
    if params.flips.any():
        out = x.clone()
        for b, pattern in enumerate(params.flips):
            if pattern.any():
                out[b] = x[b].flip([1 + axis for axis in np.flatnonzero(pattern).tolist()])
        x = out
    if np.any(params.blur_sigma > 0):
        sigma = params.blur_sigma
        rows = np.flatnonzero(sigma > 0)
        radius = int(np.ceil(3.0 * sigma.max()))
        taps = np.arange(-radius, radius + 1)
        weights = np.exp(-0.5 * (taps[None, :] / sigma[rows, None]) ** 2)
        weights = weights / weights.sum(axis=1, keepdims=True)
        kernel = torch.as_tensor(weights, dtype=x.dtype)
        kernel = kernel.reshape(weights.shape + (1,) * (x.ndim - 1))
        blurred = x[torch.as_tensor(rows)]
        for axis in range(2, x.ndim):
            shape = list(blurred.shape)
            shape[axis] = radius
            padded = torch.cat(
                [
                    blurred.narrow(axis, 0, 1).expand(shape),
                    blurred,
                    blurred.narrow(axis, blurred.shape[axis] - 1, 1).expand(shape),
                ],
                dim=axis,
            )
            summed = torch.zeros_like(blurred)
            for k in range(len(taps)):
                summed.addcmul_(padded.narrow(axis, k, x.shape[axis]), kernel[:, k])
            blurred = summed
        out = x.clone()
        out[torch.as_tensor(rows)] = blurred
        x = out

    def per_sample(values):
        return torch.as_tensor(values, dtype=x.dtype).reshape((-1,) + (1,) * (x.ndim - 1))

    if not np.all(params.gamma == 1.0):
        spatial = tuple(range(2, x.ndim))
        low = x.amin(dim=spatial, keepdim=True)
        span = x.amax(dim=spatial, keepdim=True) - low
        exponent = per_sample(params.gamma)
        normalized = ((x - low) / span.clamp_min(torch.finfo(x.dtype).tiny)).clamp(0.0, 1.0)
        corrected = normalized.pow(exponent) * span + low
        x = torch.where((exponent == 1.0) | (span <= 0), x, corrected)
    x = x * per_sample(params.scale) + per_sample(params.shift)
    if np.any(params.noise_std > 0):
        generator = torch.Generator().manual_seed(params.noise_seed)
        x = x + per_sample(params.noise_std) * torch.randn(x.shape, generator=generator)
    return x


@pytest.mark.parametrize("size", [(12, 10, 14), (16, 18), (40, 36, 32)])  # last: threaded
@pytest.mark.parametrize(
    "spec",
    [
        AugmentationSpec(),
        AugmentationSpec(blur_probability=1.0, noise_std_max=0.1),
        AugmentationSpec(flip_probability=0.0, blur_probability=0.5),
        AugmentationSpec(flip_probability=1.0, gamma_range=(1.0, 1.0), noise_std_max=0.0),
    ],
    ids=["default", "blur-all", "no-flips", "flip-all-no-gamma"],
)
def test_augmentation_matches_the_plain_reference_bit_for_bit(size, spec):
    rng = np.random.default_rng(7)
    for trial in range(2 if np.prod(size) > 10_000 else 4):
        x = _images(batch=6, channels=2, size=size) * 3 - 1
        x[trial % 6, 1] = 0.25  # a constant channel: gamma leaves it alone
        params = sample_augmentation(spec, 6, len(size), rng)
        if trial == 1:  # identity gamma on some samples, and -0.0 as the minimum of one
            params = replace(params, gamma=np.where(np.arange(6) % 2 == 0, 1.0, params.gamma))
            x[0, 0, 0] = -0.0
        before = x.clone()
        want = _reference_augmentation(before, params)
        got = apply_augmentation(x, params)
        assert torch.equal(got, want)
        assert torch.equal(got.signbit(), want.signbit())
        assert torch.equal(x, before)  # the input is left alone
