from __future__ import annotations

import math

import pytest
import torch
from torch.nn import functional

from anatomy_ssl.losses import MoCoLoss


def _oracle_moco(
    query: torch.Tensor, key: torch.Tensor, queue: torch.Tensor, temperature: float
) -> torch.Tensor:
    """He et al. 2020 eq. 1 written out per query:
    L_q = -log exp(q·k+/T) / (exp(q·k+/T) + sum_i exp(q·k_i/T)), q and k L2-normalized."""
    total = query.new_zeros(())
    for q, k in zip(query, key, strict=True):
        q = q / q.norm()
        k = k / k.norm()
        positive = torch.exp((q * k).sum() / temperature)
        negatives = query.new_zeros(())
        for negative in queue:
            negatives = negatives + torch.exp((q * negative).sum() / temperature)
        total = total - torch.log(positive / (positive + negatives))
    return total / query.shape[0]


@pytest.mark.parametrize("temperature", [0.07, 0.2])
def test_matches_the_paper_equation_with_gradients(temperature):
    generator = torch.Generator().manual_seed(0)
    query = torch.randn(4, 6, dtype=torch.float64, generator=generator, requires_grad=True)
    key = torch.randn(4, 6, dtype=torch.float64, generator=generator, requires_grad=True)
    queue = functional.normalize(torch.randn(7, 6, dtype=torch.float64, generator=generator), dim=1)
    loss = MoCoLoss(temperature=temperature)(query, key, queue)
    expected = _oracle_moco(query, key.detach(), queue, temperature)
    torch.testing.assert_close(loss, expected)
    (grad,) = torch.autograd.grad(loss, query, retain_graph=True)
    (expected_grad,) = torch.autograd.grad(expected, query)
    torch.testing.assert_close(grad, expected_grad)
    loss.backward()
    assert key.grad is None  # the key comes from the momentum encoder: no gradient


def test_a_queue_of_copies_of_the_positive_gives_log_of_one_plus_its_size():
    # Every logit equals 1/T, so the softmax is uniform over 1 + K entries.
    key = functional.normalize(torch.randn(3, 5, dtype=torch.float64), dim=1)
    queue = key[0].expand(4, 5)
    loss = MoCoLoss(temperature=0.2)(key[:1], key[:1], queue)
    torch.testing.assert_close(loss, torch.tensor(math.log(5.0), dtype=torch.float64))


def test_far_negatives_give_a_lower_loss_than_near_ones():
    query = functional.normalize(torch.randn(4, 8), dim=1)
    near = functional.normalize(query + 0.1 * torch.randn(4, 8), dim=1)
    loss = MoCoLoss(temperature=0.2)
    assert loss(query, query, -query) < loss(query, query, near)


def test_rejects_bad_shapes():
    with pytest.raises(ValueError, match="expected"):
        MoCoLoss()(torch.randn(4, 5), torch.randn(3, 5), torch.randn(8, 5))
