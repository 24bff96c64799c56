import math

import pytest
import torch

from anatomy_ssl.transforms import random_block_mask


@pytest.mark.parametrize(
    ("size", "block", "ratio"),
    [((16, 16, 16), 4, 0.6), ((12, 8, 16), 4, 0.3), ((32, 24), 8, 0.75), ((8, 8, 8), 2, 0.0)],
)
def test_each_sample_masks_exactly_the_rounded_number_of_whole_blocks(size, block, ratio):
    mask = random_block_mask(5, size, block, ratio, torch.Generator().manual_seed(0))
    assert mask.shape == (5, 1, *size) and mask.dtype == torch.bool
    blocks = math.prod(s // block for s in size)
    # (B, 1, g0, b, g1, b, ...): every block is all-masked or all-visible
    split = mask.reshape(5, 1, *[n for s in size for n in (s // block, block)])
    block_axes = tuple(range(3, split.ndim, 2))
    assert torch.equal(split.all(dim=block_axes), split.any(dim=block_axes))
    per_sample = split.all(dim=block_axes).flatten(1).sum(dim=1)
    assert torch.all(per_sample == round(ratio * blocks))


def test_samples_differ_and_a_seeded_generator_replays():
    first = random_block_mask(4, (16, 16, 16), 4, 0.5, torch.Generator().manual_seed(3))
    again = random_block_mask(4, (16, 16, 16), 4, 0.5, torch.Generator().manual_seed(3))
    assert torch.equal(first, again)
    assert not torch.equal(first[0], first[1])


@pytest.mark.parametrize(
    ("size", "block", "ratio"), [((16, 15, 16), 4, 0.5), ((16, 16), 0, 0.5), ((8, 8), 4, 1.5)]
)
def test_invalid_arguments_are_rejected(size, block, ratio):
    with pytest.raises(ValueError):
        random_block_mask(2, size, block, ratio, torch.Generator())
