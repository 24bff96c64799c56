"""Apply recorded augmentation parameters to a batch of views: a pure, vectorized function."""

from __future__ import annotations

import numpy as np
import torch

from anatomy_ssl.transforms.augmentation_params import AugmentationParams


def apply_augmentation(x: torch.Tensor, params: AugmentationParams) -> torch.Tensor:
    """Flip, blur, gamma-correct, scale, shift and add noise to each sample of a batch.

    Deterministic: the same `x` and `params` give identical output (noise comes from a
    generator seeded with `params.noise_seed`, on `x`'s device). Every operation is vectorized
    over the batch; identity parameters leave a sample bit-for-bit unchanged. The input is not
    modified.

    Order: flips, then blur (separable Gaussian, edge voxels replicated), then gamma on each
    channel min-max normalized to [0, 1] (range restored afterwards), then
    `x * scale + shift`, then `+ noise_std * N(0, 1)`.

    Args:
        x: `(B, C, *spatial)` floating-point views, S = 2 or 3 spatial axes.
        params: parameters for B samples and S axes (see `sample_augmentation`).

    Returns:
        `(B, C, *spatial)` augmented views, same dtype and device.
    """
    batch, spatial_dims = params.batch_size, params.spatial_dims
    if x.ndim != 2 + spatial_dims or x.shape[0] != batch or not x.is_floating_point():
        raise ValueError(
            f"params for {batch} samples with {spatial_dims} spatial axes cannot augment a "
            f"{x.dtype} tensor of shape {tuple(x.shape)}"
        )
    x = _flip(x, params.flips)
    x = _blur(x, params.blur_sigma)
    x = _gamma(x, params.gamma)
    x = x * _per_sample(params.scale, x) + _per_sample(params.shift, x)
    return _add_noise(x, params.noise_std, params.noise_seed)


def _per_sample(values: np.ndarray, x: torch.Tensor) -> torch.Tensor:
    """`(B,)` values as a `(B, 1, ..., 1)` tensor that broadcasts against `x`."""
    shape = (len(values),) + (1,) * (x.ndim - 1)
    return torch.as_tensor(values, dtype=x.dtype, device=x.device).reshape(shape)


def _flip(x: torch.Tensor, flips: np.ndarray) -> torch.Tensor:
    """Mirror the samples marked in `(B, S)` flips along each marked spatial axis.

    Samples are grouped by flip pattern (at most 2^S of them) so each is flipped once, along
    all its axes in one call.
    """
    if not flips.any():
        return x
    out = x.clone()
    patterns, group = np.unique(flips, axis=0, return_inverse=True)
    group = group.reshape(-1)  # (B,) pattern of each sample
    for pattern_index, pattern in enumerate(patterns):
        if pattern.any():
            rows = torch.as_tensor(np.flatnonzero(group == pattern_index), device=x.device)
            axes = [2 + axis for axis in np.flatnonzero(pattern).tolist()]
            out[rows] = x[rows].flip(axes)
    return out


def _blur(x: torch.Tensor, sigma: np.ndarray) -> torch.Tensor:
    """Separable Gaussian blur with a `(B,)` per-sample sigma in voxels (0 = unchanged).

    Only samples with sigma > 0 are touched. Each axis is convolved as a weighted sum of shifted
    views of the edge-replicated samples, the weights differing per sample: one kernel per
    sample without a grouped convolution, and elementwise arithmetic in a fixed order, so the
    result does not depend on thread count or convolution backend.
    """
    blurred_rows = np.flatnonzero(sigma > 0)
    if len(blurred_rows) == 0:
        return x
    radius = int(np.ceil(3.0 * sigma.max()))
    taps = np.arange(-radius, radius + 1)  # (K,) offsets, voxels
    weights = np.exp(-0.5 * (taps[None, :] / sigma[blurred_rows, None]) ** 2)  # (N, K)
    weights = weights / weights.sum(axis=1, keepdims=True)
    kernel = torch.as_tensor(weights, dtype=x.dtype, device=x.device)
    kernel = kernel.reshape(kernel.shape + (1,) * (x.ndim - 1))  # (N, K, 1, ..., 1)
    rows = torch.as_tensor(blurred_rows, device=x.device)
    blurred = x[rows]  # (N, C, *spatial)
    for axis in range(2, x.ndim):
        length = x.shape[axis]
        padded = _replicate_pad(blurred, axis, radius)
        summed = torch.zeros_like(blurred)
        for k in range(len(taps)):
            summed.addcmul_(padded.narrow(axis, k, length), kernel[:, k])
        blurred = summed
    out = x.clone()
    out[rows] = blurred
    return out


def _replicate_pad(x: torch.Tensor, axis: int, radius: int) -> torch.Tensor:
    """Extend `x` by `radius` copies of its first and last slice along `axis`."""
    edge_shape = list(x.shape)
    edge_shape[axis] = radius
    first = x.narrow(axis, 0, 1).expand(edge_shape)
    last = x.narrow(axis, x.shape[axis] - 1, 1).expand(edge_shape)
    return torch.cat([first, x, last], dim=axis)


def _gamma(x: torch.Tensor, gamma: np.ndarray) -> torch.Tensor:
    """`((x - min) / (max - min)) ** gamma * (max - min) + min` per sample and channel."""
    if np.all(gamma == 1.0):
        return x
    spatial = tuple(range(2, x.ndim))
    low = x.amin(dim=spatial, keepdim=True)  # (B, C, 1, ..., 1)
    span = x.amax(dim=spatial, keepdim=True) - low
    exponent = _per_sample(gamma, x)
    normalized = ((x - low) / span.clamp_min(torch.finfo(x.dtype).tiny)).clamp(0.0, 1.0)
    corrected = normalized.pow(exponent) * span + low
    unchanged = (exponent == 1.0) | (span <= 0)  # identity gamma or a constant channel
    return torch.where(unchanged, x, corrected)


def _add_noise(x: torch.Tensor, noise_std: np.ndarray, seed: int) -> torch.Tensor:
    """Add Gaussian noise of `(B,)` standard deviations, drawn from a generator seeded `seed`."""
    if not np.any(noise_std > 0):
        return x
    generator = torch.Generator(device=x.device)
    generator.manual_seed(seed)
    noise = torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
    return x + _per_sample(noise_std, x) * noise
