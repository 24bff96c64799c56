from __future__ import annotations

import pytest
import torch
from torch.nn import functional

from anatomy_ssl.losses import MoCoLoss, prune_lookalike_negatives


def _oracle_pruned_infonce(
    query: torch.Tensor,
    key: torch.Tensor,
    queue: torch.Tensor,
    temperature: float,
    threshold: float,
) -> tuple[torch.Tensor, float]:
    """Adam-v1's pruned InfoNCE written out per query: the negatives with cos(q, k_i) >= the
    threshold are left out of the denominator,
    L_q = -log exp(q·k+/T) / (exp(q·k+/T) + sum_{i: q·k_i < thr} exp(q·k_i/T))."""
    total = query.new_zeros(())
    pruned = 0
    for q, k in zip(query, key, strict=True):
        q = q / q.norm()
        k = k / k.norm()
        positive = torch.exp((q * k).sum() / temperature)
        negatives = query.new_zeros(())
        for negative in queue:
            cosine = (q * negative).sum()
            if cosine >= threshold:
                pruned += 1
                continue
            negatives = negatives + torch.exp(cosine / temperature)
        total = total - torch.log(positive / (positive + negatives))
    return total / query.shape[0], pruned / (query.shape[0] * queue.shape[0])


def _lookalike_batch(generator: torch.Generator):
    """Queries, keys and a queue where some negatives are near copies of some queries."""
    query = torch.randn(5, 8, dtype=torch.float64, generator=generator, requires_grad=True)
    key = torch.randn(5, 8, dtype=torch.float64, generator=generator)
    noise = torch.randn(4, 8, dtype=torch.float64, generator=generator)
    lookalikes = query.detach()[:4] + 0.1 * noise  # cosine ~0.99 with queries 0..3
    others = torch.randn(9, 8, dtype=torch.float64, generator=generator)
    queue = functional.normalize(torch.cat([lookalikes, others]), dim=1)
    return query, key, queue


@pytest.mark.parametrize("threshold", [0.8, 0.3, -0.2])
def test_pruned_infonce_matches_the_per_sample_equation_with_gradients(threshold):
    query, key, queue = _lookalike_batch(torch.Generator().manual_seed(0))
    loss, fraction = MoCoLoss(0.2, prune_threshold=threshold).loss_and_pruned_fraction(
        query, key, queue
    )
    expected, expected_fraction = _oracle_pruned_infonce(query, key, queue, 0.2, threshold)
    torch.testing.assert_close(loss, expected)
    assert float(fraction) == pytest.approx(expected_fraction)
    assert expected_fraction > 0  # the batch does have look-alikes at every threshold tested
    (grad,) = torch.autograd.grad(loss, query, retain_graph=True)
    (expected_grad,) = torch.autograd.grad(expected, query)
    torch.testing.assert_close(grad, expected_grad)


def test_pruning_lowers_the_loss_of_queries_with_lookalikes_and_no_threshold_prunes_nothing():
    query, key, queue = _lookalike_batch(torch.Generator().manual_seed(1))
    plain, none_pruned = MoCoLoss(0.2).loss_and_pruned_fraction(query, key, queue)
    pruned, fraction = MoCoLoss(0.2, prune_threshold=0.8).loss_and_pruned_fraction(
        query, key, queue
    )
    assert float(none_pruned) == 0.0
    assert pruned.item() < plain.item()
    assert float(fraction) == pytest.approx(4 / (5 * 13))  # exactly the four planted copies


def test_every_negative_pruned_leaves_only_the_positive():
    query = torch.randn(3, 4)
    loss, fraction = MoCoLoss(0.2, prune_threshold=-0.99).loss_and_pruned_fraction(
        query, torch.randn(3, 4), functional.normalize(torch.randn(6, 4), dim=1)
    )
    assert float(fraction) == 1.0 and float(loss) == pytest.approx(0.0, abs=1e-6)


def test_the_mask_is_minus_infinity_exactly_at_and_above_the_threshold():
    cosines = torch.tensor([[0.79, 0.8, 0.95], [-1.0, 0.5, 1.0]])
    masked, fraction = prune_lookalike_negatives(cosines, 0.8)
    assert torch.isinf(masked).tolist() == [[False, True, True], [False, False, True]]
    assert masked[0, 0] == cosines[0, 0] and float(fraction) == pytest.approx(3 / 6)


@pytest.mark.parametrize("threshold", [-1.0, 1.5])
def test_thresholds_outside_the_cosine_range_are_refused(threshold):
    with pytest.raises(ValueError, match="threshold"):
        MoCoLoss(0.2, prune_threshold=threshold)
    with pytest.raises(ValueError, match="threshold"):
        prune_lookalike_negatives(torch.zeros(2, 2), threshold)
