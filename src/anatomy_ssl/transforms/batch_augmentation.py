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
    modified: the first step that changes it makes a new tensor, and later steps work on that
    one in place.

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
    original = x
    x = _flip(x, params.flips)
    x = _blur(x, params.blur_sigma, in_place=x is not original)
    x = _gamma(x, params.gamma, in_place=x is not original)
    scale, shift = _per_sample(params.scale, x), _per_sample(params.shift, x)
    x = x.mul_(scale) if x is not original else x * scale
    x = x.add_(shift)  # the same rounding as `x * scale + shift`
    return _add_noise(x, params.noise_std, params.noise_seed)


def _per_sample(values: np.ndarray, x: torch.Tensor) -> torch.Tensor:
    """`(B,)` values as a `(B, 1, ..., 1)` tensor that broadcasts against `x`."""
    shape = (len(values),) + (1,) * (x.ndim - 1)
    return torch.as_tensor(values, dtype=x.dtype, device=x.device).reshape(shape)


def _flip(x: torch.Tensor, flips: np.ndarray) -> torch.Tensor:
    """Mirror the samples marked in `(B, S)` flips along each marked spatial axis.

    One pass: a batch whose samples share one pattern is flipped in one call; otherwise each
    sample is flipped (or copied) straight into its row of a new tensor.
    """
    if not flips.any():
        return x
    if (flips == flips[0]).all():
        return x.flip([2 + axis for axis in np.flatnonzero(flips[0]).tolist()])
    out = torch.empty_like(x)
    for row, pattern in enumerate(flips):
        axes = [1 + axis for axis in np.flatnonzero(pattern).tolist()]  # axes of x[row]
        if axes:
            torch.ops.aten.flip.out(x[row], axes, out=out[row])
        else:
            out[row].copy_(x[row])
    return out


def _blur(x: torch.Tensor, sigma: np.ndarray, *, in_place: bool) -> torch.Tensor:
    """Separable Gaussian blur with a `(B,)` per-sample sigma in voxels (0 = unchanged).

    Only samples with sigma > 0 are touched. Each axis is convolved as a weighted sum of shifted
    views of the edge-replicated samples, the weights differing per sample: one kernel per
    sample without a grouped convolution, and elementwise arithmetic in a fixed order, so the
    result does not depend on thread count or convolution backend. With `in_place`, the blurred
    samples are written back into `x`.
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
    every_row = len(blurred_rows) == len(sigma)
    rows = torch.as_tensor(blurred_rows, device=x.device)
    blurred = x if every_row else x[rows]  # (N, C, *spatial); padding below copies it anyway
    for axis in range(2, x.ndim):
        length = x.shape[axis]
        padded = _replicate_pad(blurred, axis, radius)
        summed = torch.zeros_like(blurred)
        for k in range(len(taps)):
            summed.addcmul_(padded.narrow(axis, k, length), kernel[:, k])
        blurred = summed
    if every_row:
        return blurred
    out = x if in_place else _copy_rows(x, np.flatnonzero(sigma <= 0))
    out[rows] = blurred
    return out


def _copy_rows(x: torch.Tensor, rows: np.ndarray) -> torch.Tensor:
    """A new tensor like `x` holding `x`'s samples `rows` (the other rows are left empty)."""
    out = torch.empty_like(x)
    index = torch.as_tensor(rows, device=x.device)
    out[index] = x[index]
    return out


def _replicate_pad(x: torch.Tensor, axis: int, radius: int) -> torch.Tensor:
    """Extend `x` by `radius` copies of its first and last slice along `axis`."""
    edge_shape = list(x.shape)
    edge_shape[axis] = radius
    first = x.narrow(axis, 0, 1).expand(edge_shape)
    last = x.narrow(axis, x.shape[axis] - 1, 1).expand(edge_shape)
    return torch.cat([first, x, last], dim=axis)


def _gamma(x: torch.Tensor, gamma: np.ndarray, *, in_place: bool) -> torch.Tensor:
    """`((x - min) / (max - min)) ** gamma * (max - min) + min` per sample and channel.

    Samples with gamma 1 and constant channels are left unchanged (the only case that needs a
    second output, for `torch.where`). The output is made by `x - min` and the rest works on it
    in place; with `in_place`, the result is written into `x`.
    """
    if np.all(gamma == 1.0):
        return x
    spatial = tuple(range(2, x.ndim))
    low = x.amin(dim=spatial, keepdim=True)  # (B, C, 1, ..., 1); faster than one aminmax pass
    span = x.amax(dim=spatial, keepdim=True) - low
    exponent = _per_sample(gamma, x)
    keep = (span <= 0) | (exponent == 1.0)  # (B, C, 1, ..., 1) constant channels, gamma 1
    keep_some = bool(keep.any())
    corrected = x.sub_(low) if in_place and not keep_some else x - low
    corrected.div_(span.clamp_min(torch.finfo(x.dtype).tiny)).clamp_(0.0, 1.0)
    corrected.pow_(exponent).mul_(span).add_(low)
    return torch.where(keep, x, corrected) if keep_some else corrected


def _add_noise(x: torch.Tensor, noise_std: np.ndarray, seed: int) -> torch.Tensor:
    """Add Gaussian noise of `(B,)` standard deviations, drawn from a generator seeded `seed`,
    in place.

    The whole batch's noise is drawn even when some samples have none, so each sample's noise
    depends only on the seed and its row (a recorded view replays exactly).
    """
    if not np.any(noise_std > 0):
        return x
    generator = torch.Generator(device=x.device)
    generator.manual_seed(seed)
    noise = torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
    return x.add_(noise.mul_(_per_sample(noise_std, x)))
