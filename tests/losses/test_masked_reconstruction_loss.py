from __future__ import annotations

import itertools

import pytest
import torch

from anatomy_ssl.losses import masked_reconstruction_loss


def _oracle(prediction: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, power: int):
    """SimMIM eq. 1 written out: the mean over masked voxels and channels of |y_hat - y|^p."""
    total = prediction.new_zeros(())
    count = 0
    batch, channels, *spatial = prediction.shape
    for b in range(batch):
        for position in itertools.product(*(range(size) for size in spatial)):
            if not mask[(b, 0, *position)]:
                continue
            for c in range(channels):
                total = (
                    total
                    + (prediction[(b, c, *position)] - target[(b, c, *position)]).abs() ** power
                )
                count += 1
    return total / count


@pytest.mark.parametrize(("norm", "power"), [("l2", 2), ("l1", 1)])
@pytest.mark.parametrize("spatial", [(4, 5), (3, 4, 2)])
def test_matches_the_paper_equation_with_gradients(norm, power, spatial):
    generator = torch.Generator().manual_seed(len(spatial))
    shape = (2, 3, *spatial)
    prediction = torch.randn(shape, dtype=torch.float64, generator=generator, requires_grad=True)
    target = torch.randn(shape, dtype=torch.float64, generator=generator)
    mask = torch.rand((2, 1, *spatial), generator=generator) < 0.4
    mask[0, 0].view(-1)[0] = True
    loss = masked_reconstruction_loss(prediction, target, mask, norm=norm)
    expected = _oracle(prediction, target, mask, power)
    torch.testing.assert_close(loss, expected)
    (grad,) = torch.autograd.grad(loss, prediction)
    (expected_grad,) = torch.autograd.grad(expected, prediction)
    torch.testing.assert_close(grad, expected_grad)
    assert (grad * (~mask)).abs().sum() == 0  # visible voxels get no gradient


def test_visible_voxels_do_not_count():
    target = torch.zeros(1, 1, 4, 4)
    mask = torch.zeros(1, 1, 4, 4, dtype=torch.bool)
    mask[..., :2, :] = True
    prediction = torch.zeros(1, 1, 4, 4)
    prediction[..., 2:, :] = 1e6  # huge errors where nothing was masked
    prediction[..., :2, :] = 2.0
    torch.testing.assert_close(
        masked_reconstruction_loss(prediction, target, mask), torch.tensor(4.0)
    )
    torch.testing.assert_close(
        masked_reconstruction_loss(prediction, target, mask, norm="l1"), torch.tensor(2.0)
    )


def test_an_empty_mask_is_a_clear_error():
    x = torch.randn(1, 1, 3, 3)
    with pytest.raises(ValueError, match="no voxel"):
        masked_reconstruction_loss(x, x, torch.zeros(1, 1, 3, 3, dtype=torch.bool))


@pytest.mark.parametrize(
    ("mask", "match"),
    [
        (torch.ones(1, 2, 3, 3, dtype=torch.bool), "mask"),
        (torch.ones(1, 1, 3, 3), "mask"),
    ],
)
def test_rejects_a_malformed_mask(mask, match):
    x = torch.randn(1, 2, 3, 3)
    with pytest.raises(ValueError, match=match):
        masked_reconstruction_loss(x, x, mask)


def test_rejects_mismatched_shapes_and_unknown_norms():
    x = torch.randn(1, 1, 3, 3)
    mask = torch.ones(1, 1, 3, 3, dtype=torch.bool)
    with pytest.raises(ValueError, match="differ"):
        masked_reconstruction_loss(x, torch.randn(1, 1, 3, 4), mask)
    with pytest.raises(ValueError, match="norm"):
        masked_reconstruction_loss(x, x, mask, norm="l3")  # type: ignore[arg-type]
