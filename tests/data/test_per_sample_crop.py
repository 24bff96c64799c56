import itertools

import numpy as np
import pytest
import torch

from anatomy_ssl.data.per_sample_crop import crop_per_sample, split_into_halves


def _batch(shape):
    return torch.arange(int(np.prod(shape)), dtype=torch.float32).reshape(shape)


@pytest.mark.parametrize(
    ("shape", "starts", "size"),
    [
        ((3, 2, 9, 8, 7), [[0, 0, 0], [4, 1, 3], [2, 5, 0]], (5, 3, 4)),
        ((4, 1, 10, 9), [[0, 0], [7, 3], [1, 6], [3, 0]], (3, 3)),
        ((2, 3, 6, 6), [[0, 0], [0, 0]], (6, 6)),  # the whole image
    ],
)
def test_crop_per_sample_equals_slicing_each_sample(shape, starts, size):
    x = _batch(shape)
    starts = np.asarray(starts)
    out = crop_per_sample(x, starts, size)
    assert out.shape == (shape[0], shape[1], *size) and out.is_contiguous()
    for b, start in enumerate(starts):
        window = tuple(slice(int(a), int(a) + n) for a, n in zip(start, size, strict=True))
        assert torch.equal(out[b], x[b][(slice(None), *window)])


@pytest.mark.parametrize(
    "starts",
    [
        [[0, 0], [6, 0]],  # runs past the end of the first axis
        [[0, -1], [0, 0]],  # negative
        [[0, 0]],  # one start for two samples
    ],
)
def test_crops_that_leave_the_batch_raise(starts):
    with pytest.raises(ValueError):
        crop_per_sample(_batch((2, 1, 10, 9)), np.asarray(starts), (5, 5))


@pytest.mark.parametrize("shape", [(2, 3, 8, 6, 4), (3, 1, 6, 10)])
def test_halves_are_in_c_order_with_the_first_axis_most_significant(shape):
    x = _batch(shape)
    half = [n // 2 for n in shape[2:]]
    parts = split_into_halves(x)
    assert len(parts) == 2 ** len(half)
    for p, bits in enumerate(itertools.product((0, 1), repeat=len(half))):
        window = tuple(slice(b * h, (b + 1) * h) for b, h in zip(bits, half, strict=True))
        assert parts[p].is_contiguous()
        assert torch.equal(parts[p], x[(slice(None), slice(None), *window)])


@pytest.mark.parametrize("shape", [(2, 3, 8, 6, 4), (3, 1, 6, 10)])
def test_concatenating_the_halves_reconstructs_the_input(shape):
    x = torch.randn(shape)
    parts = split_into_halves(x)
    dims = len(shape) - 2

    def join(chunk, axis):
        if axis == dims:
            return chunk[0]
        step = len(chunk) // 2
        return torch.cat([join(chunk[:step], axis + 1), join(chunk[step:], axis + 1)], 2 + axis)

    assert torch.equal(join(parts, 0), x)


@pytest.mark.parametrize("shape", [(2, 1, 8, 7, 4), (2, 1, 5, 6)])
def test_odd_sizes_cannot_be_halved(shape):
    with pytest.raises(ValueError):
        split_into_halves(torch.zeros(shape))
