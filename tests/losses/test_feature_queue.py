from __future__ import annotations

import pytest
import torch
from torch.nn import functional

from anatomy_ssl.losses import FeatureQueue


def _ring_oracle(initial: torch.Tensor, batches: list[torch.Tensor]) -> tuple[torch.Tensor, int]:
    """Write keys one at a time over the oldest slot, wrapping around the end."""
    features = initial.clone()
    pointer = 0
    for batch in batches:
        for key in batch:
            features[pointer] = key / key.norm()
            pointer = (pointer + 1) % features.shape[0]
    return features, pointer


def test_starts_with_deterministic_unit_vectors_in_the_state_dict():
    torch.manual_seed(3)
    first = FeatureQueue(size=6, dim=4)
    torch.manual_seed(3)
    second = FeatureQueue(size=6, dim=4)
    torch.testing.assert_close(first.features, second.features)
    torch.testing.assert_close(first.features.norm(dim=1), torch.ones(6))
    assert set(first.state_dict()) == {"features", "pointer"}
    assert first.pointer.dtype == torch.long and int(first.pointer) == 0


@pytest.mark.parametrize("batch", [1, 2, 3, 5, 7, 12])
def test_writes_in_ring_order_with_wrap_around(batch):
    queue = FeatureQueue(size=5, dim=3)
    generator = torch.Generator().manual_seed(batch)
    batches = [3.0 * torch.randn(batch, 3, generator=generator) for _ in range(4)]
    expected_features, expected_pointer = _ring_oracle(queue.features, batches)
    for keys in batches:
        queue.enqueue(keys)
    torch.testing.assert_close(queue.features, expected_features)
    assert int(queue.pointer) == expected_pointer


def test_keeps_no_gradient():
    queue = FeatureQueue(size=4, dim=3)
    keys = torch.randn(2, 3, requires_grad=True)
    queue.enqueue(keys * 2)
    assert not queue.features.requires_grad
    torch.testing.assert_close(queue.features[:2], functional.normalize(keys.detach(), dim=1))


def test_state_dict_round_trip_resumes_at_the_same_slot():
    queue = FeatureQueue(size=5, dim=3)
    queue.enqueue(torch.randn(3, 3))
    restored = FeatureQueue(size=5, dim=3)
    restored.load_state_dict(queue.state_dict())
    keys = torch.randn(4, 3)
    queue.enqueue(keys)
    restored.enqueue(keys)
    torch.testing.assert_close(restored.features, queue.features)
    assert int(restored.pointer) == int(queue.pointer) == 2


def test_rejects_bad_arguments():
    with pytest.raises(ValueError, match="size"):
        FeatureQueue(size=0, dim=3)
    with pytest.raises(ValueError, match="keys"):
        FeatureQueue(size=4, dim=3).enqueue(torch.randn(2, 4))
