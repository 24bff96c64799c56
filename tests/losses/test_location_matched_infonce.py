from __future__ import annotations

import math

import pytest
import torch
from torch.nn import functional

from anatomy_ssl.losses import (
    LocationMatchedInfoNCE,
    MoCoLoss,
    TaggedFeatureQueue,
    location_matched_negative_mask,
    neighbour_query,
)


def _queue(keys: torch.Tensor, locations: list[int], subjects: list[int], size: int):
    """A float64 queue holding `keys` with their tags in slots 0.., the rest empty."""
    queue = TaggedFeatureQueue(size=size, dim=keys.shape[1]).double()
    queue.enqueue(keys, torch.tensor(locations), torch.tensor(subjects))
    return queue


def _oracle(
    query: torch.Tensor,
    key: torch.Tensor,
    locations: list[int],
    subjects: list[int],
    queue: TaggedFeatureQueue,
    temperature: float,
) -> tuple[torch.Tensor, float]:
    """DrasCLR's local loss written out per query: the negatives of query b are the queued keys
    tagged with b's location and another subject, picked one by one (empty slots: tag -1);
    L_b = -log exp(q·k+/T) / (exp(q·k+/T) + sum_negatives exp(q·k_i/T)). Also the mean number
    of negatives per query."""
    total = query.new_zeros(())
    counts = []
    for b in range(query.shape[0]):
        q = query[b] / query[b].norm()
        k = key[b] / key[b].norm()
        positive = torch.exp((q * k).sum() / temperature)
        denominator = positive
        count = 0
        for i in range(queue.size):
            location, subject = int(queue.locations[i]), int(queue.subjects[i])
            if location == -1 or subject == -1:
                continue
            if location == locations[b] and subject != subjects[b]:
                denominator = denominator + torch.exp((q * queue.features[i]).sum() / temperature)
                count += 1
        total = total - torch.log(positive / denominator)
        counts.append(count)
    return total / query.shape[0], sum(counts) / len(counts)


@pytest.mark.parametrize("temperature", [0.07, 0.2])
def test_matches_the_per_query_equation_in_value_and_gradient(temperature):
    generator = torch.Generator().manual_seed(0)

    def draw(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, dtype=torch.float64, generator=generator)

    # 9 keys over locations 0..2 and subjects 0..3 in a queue of 12: 3 empty slots
    queue = _queue(draw(9, 6), [0, 0, 1, 2, 0, 1, 0, 2, 1], [0, 1, 1, 3, 2, 0, 0, 2, 3], size=12)
    locations = [0, 1, 0, 2, 3]  # the last query's location has no key: no negative
    subjects = [0, 1, 2, 3, 0]
    query = draw(5, 6).requires_grad_()
    key = draw(5, 6).requires_grad_()
    loss, count = LocationMatchedInfoNCE(temperature=temperature).loss_and_negative_count(
        query, key, torch.tensor(locations), torch.tensor(subjects), queue
    )
    expected, expected_count = _oracle(query, key.detach(), locations, subjects, queue, temperature)
    torch.testing.assert_close(loss, expected)
    assert count.item() == pytest.approx(expected_count) == (2 + 2 + 3 + 1 + 0) / 5
    (grad,) = torch.autograd.grad(loss, query, retain_graph=True)
    (expected_grad,) = torch.autograd.grad(expected, query)
    torch.testing.assert_close(grad, expected_grad)
    loss.backward()
    assert key.grad is None  # the key comes from the momentum encoder: no gradient
    assert not count.requires_grad


def test_equals_moco_over_the_valid_keys_alone():
    generator = torch.Generator().manual_seed(1)
    keys = functional.normalize(torch.randn(4, 5, dtype=torch.float64, generator=generator), dim=1)
    query = torch.randn(1, 5, dtype=torch.float64, generator=generator)
    key = torch.randn(1, 5, dtype=torch.float64, generator=generator)
    queue = _queue(keys, [2, 2, 2, 2], [0, 1, 3, 4], size=7)  # 3 empty slots
    loss = LocationMatchedInfoNCE()(query, key, torch.tensor([2]), torch.tensor([9]), queue)
    torch.testing.assert_close(loss, MoCoLoss()(query, key, keys))


def test_never_meets_keys_of_another_location_or_of_its_own_subject():
    generator = torch.Generator().manual_seed(2)
    query = torch.randn(1, 8, dtype=torch.float64, generator=generator)
    key = torch.randn(1, 8, dtype=torch.float64, generator=generator)
    others = torch.randn(3, 8, dtype=torch.float64, generator=generator)  # location 4, subjects 1-3
    loss = LocationMatchedInfoNCE(temperature=0.2)
    tags = torch.tensor([4]), torch.tensor([0])  # the query: location 4, subject 0

    clean = _queue(others, [4, 4, 4], [1, 2, 3], size=16)
    # copies of the query itself (cosine 1, the hardest possible negatives) at other locations,
    # or at its own location from its own subject
    planted = _queue(
        torch.cat([query.expand(4, 8), others, query.expand(2, 8)]),
        [0, 3, 5, 4, 4, 4, 4, 7, 4],
        [1, 2, 3, 0, 1, 2, 3, 0, 0],
        size=16,
    )
    torch.testing.assert_close(loss(query, key, *tags, planted), loss(query, key, *tags, clean))

    # one copy at its own location from another subject is a negative, and a hard one
    hard = _queue(torch.cat([others, query]), [4, 4, 4, 4], [1, 2, 3, 5], size=16)
    assert loss(query, key, *tags, hard) > loss(query, key, *tags, clean) + 0.1


def test_empty_slots_are_never_negatives():
    query = functional.normalize(torch.randn(3, 4, dtype=torch.float64), dim=1)
    loss, count = LocationMatchedInfoNCE().loss_and_negative_count(
        query,
        query,
        torch.tensor([0, 1, 2]),
        torch.tensor([5, 6, 7]),
        TaggedFeatureQueue(size=8, dim=4).double(),  # all slots empty, tagged -1
    )
    assert loss.item() == 0.0 and count.item() == 0.0


def test_a_query_without_negatives_contributes_zero_and_no_gradient():
    generator = torch.Generator().manual_seed(3)
    keys = torch.randn(3, 4, dtype=torch.float64, generator=generator)
    queue = _queue(keys, [0, 0, 0], [1, 1, 1], size=3)
    query = torch.randn(3, 4, dtype=torch.float64, generator=generator, requires_grad=True)
    key = torch.randn(3, 4, dtype=torch.float64, generator=generator)
    # query 0 has 3 negatives; query 1 is at another location; query 2 is subject 1 itself
    locations, subjects = torch.tensor([0, 1, 0]), torch.tensor([9, 9, 1])
    loss = LocationMatchedInfoNCE()(query, key, locations, subjects, queue)
    alone = LocationMatchedInfoNCE()(query[:1], key[:1], locations[:1], subjects[:1], queue)
    torch.testing.assert_close(loss, alone / 3)  # the mean counts the zero terms
    (grad,) = torch.autograd.grad(loss, query)
    assert torch.isfinite(grad).all()
    assert grad[0].abs().sum() > 0
    torch.testing.assert_close(grad[1:], torch.zeros(2, 4, dtype=torch.float64))


def test_a_queue_of_copies_of_the_positive_gives_log_of_one_plus_its_valid_count():
    key = functional.normalize(torch.randn(1, 5, dtype=torch.float64), dim=1)
    queue = _queue(key.expand(6, 5), [0, 0, 0, 0, 1, 0], [1, 2, 3, 4, 1, 0], size=8)
    loss = LocationMatchedInfoNCE()(key, key, torch.tensor([0]), torch.tensor([0]), queue)
    torch.testing.assert_close(loss, torch.tensor(math.log(5.0), dtype=torch.float64))


def test_negative_mask_matches_tags():
    mask = location_matched_negative_mask(
        torch.tensor([0, 1, -1]),
        torch.tensor([5, 6, 5]),
        torch.tensor([0, 0, 1, 1, -1]),
        torch.tensor([5, 6, 5, 6, -1]),
    )
    expected = torch.tensor(
        [
            [False, True, False, False, False],
            [False, False, True, False, False],
            [False, False, False, False, False],  # an untagged query does not meet empty slots
        ]
    )
    assert torch.equal(mask, expected)


def test_neighbour_query_sums_then_normalizes():
    generator = torch.Generator().manual_seed(4)
    neighbours = torch.randn(3, 2, 5, dtype=torch.float64, generator=generator)
    expected = torch.stack([sum(n) / sum(n).norm() for n in neighbours])  # oracle, per anchor
    result = neighbour_query(neighbours)
    assert result.shape == (3, 5)
    torch.testing.assert_close(result, expected)
    # a sum, not a mean of unit vectors: the longer neighbour weighs more
    skewed = torch.tensor([[[10.0, 0.0], [0.0, 1.0]]], dtype=torch.float64)
    torch.testing.assert_close(
        neighbour_query(skewed), torch.tensor([[10.0, 1.0]], dtype=torch.float64) / math.sqrt(101)
    )


def test_neighbour_loss_is_the_same_loss_with_the_neighbour_query():
    generator = torch.Generator().manual_seed(5)
    neighbours = torch.randn(2, 2, 4, dtype=torch.float64, generator=generator)
    neighbours.requires_grad_()
    key = torch.randn(2, 4, dtype=torch.float64, generator=generator)
    keys = torch.randn(4, 4, dtype=torch.float64, generator=generator)
    queue = _queue(keys, [0, 1, 0, 1], [3, 3, 4, 4], size=4)
    locations, subjects = torch.tensor([0, 1]), torch.tensor([1, 2])
    loss = LocationMatchedInfoNCE()(neighbour_query(neighbours), key, locations, subjects, queue)
    summed = neighbours.detach().sum(dim=1)
    expected, _ = _oracle(summed, key, [0, 1], [1, 2], queue, 0.2)
    torch.testing.assert_close(loss, expected)
    loss.backward()
    assert neighbours.grad is not None and neighbours.grad.abs().sum() > 0


def test_shapes_and_errors():
    queue = TaggedFeatureQueue(size=4, dim=3)
    loss = LocationMatchedInfoNCE()
    tags = torch.tensor([0, 1])
    out, count = loss.loss_and_negative_count(
        torch.randn(2, 3), torch.randn(2, 3), tags, tags, queue
    )
    assert out.shape == () and count.shape == () and count.dtype == torch.float32
    with pytest.raises(ValueError, match="temperature"):
        LocationMatchedInfoNCE(temperature=0.0)
    with pytest.raises(ValueError, match="query and key"):
        loss(torch.randn(2, 3), torch.randn(3, 3), tags, tags, queue)
    with pytest.raises(ValueError, match="query and key"):
        loss(torch.randn(2, 4), torch.randn(2, 4), tags, tags, queue)  # queue holds D = 3
    with pytest.raises(ValueError, match="locations must have shape"):
        loss(torch.randn(2, 3), torch.randn(2, 3), torch.tensor([0]), tags, queue)
    with pytest.raises(ValueError, match="integer"):
        loss(torch.randn(2, 3), torch.randn(2, 3), tags, tags.float(), queue)
    with pytest.raises(ValueError, match="neighbour_embeddings"):
        neighbour_query(torch.randn(2, 3))
    with pytest.raises(ValueError, match="neighbour_embeddings"):
        neighbour_query(torch.randn(2, 0, 3))
