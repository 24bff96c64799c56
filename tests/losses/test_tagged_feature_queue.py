from __future__ import annotations

import pytest
import torch
from torch.nn import functional

from anatomy_ssl.losses import TaggedFeatureQueue

BUFFERS = ("features", "locations", "subjects", "pointer")


def _ring_oracle(
    queue: TaggedFeatureQueue, batches: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, int]:
    """Write keys and their tags one at a time over the oldest slot, wrapping around the end."""
    features = queue.features.clone()
    locations = queue.locations.clone()
    subjects = queue.subjects.clone()
    pointer = 0
    for keys, key_locations, key_subjects in batches:
        for key, location, subject in zip(keys, key_locations, key_subjects, strict=True):
            features[pointer] = key / key.norm()
            locations[pointer] = location
            subjects[pointer] = subject
            pointer = (pointer + 1) % features.shape[0]
    return features, locations, subjects, pointer


def _batches(count: int, batch: int, dim: int, seed: int) -> list:
    generator = torch.Generator().manual_seed(seed)
    return [
        (
            3.0 * torch.randn(batch, dim, generator=generator),
            torch.randint(0, 4, (batch,), generator=generator),
            torch.randint(0, 100, (batch,), generator=generator),
        )
        for _ in range(count)
    ]


def test_starts_empty_with_every_slot_tagged_minus_one_in_the_state_dict():
    queue = TaggedFeatureQueue(size=6, dim=4)
    torch.testing.assert_close(queue.features, torch.zeros(6, 4))
    for tags in (queue.locations, queue.subjects):
        assert tags.dtype == torch.long
        assert torch.equal(tags, torch.full((6,), -1, dtype=torch.long))
    assert set(queue.state_dict()) == set(BUFFERS)
    assert queue.pointer.dtype == torch.long and int(queue.pointer) == 0


def test_memory_is_size_times_dim_times_four_bytes_plus_tags_whatever_the_locations():
    queue = TaggedFeatureQueue(size=4096, dim=128)
    feature_bytes = queue.features.numel() * queue.features.element_size()
    tag_bytes = sum(t.numel() * t.element_size() for t in (queue.locations, queue.subjects))
    assert feature_bytes == 4096 * 128 * 4
    assert tag_bytes == 4096 * 2 * 8


@pytest.mark.parametrize("batch", [1, 2, 3, 5, 7, 12])
def test_writes_keys_and_tags_in_ring_order_with_wrap_around(batch):
    queue = TaggedFeatureQueue(size=5, dim=3)
    batches = _batches(4, batch, 3, seed=batch)  # 12 > size: only the last 5 keys are kept
    features, locations, subjects, pointer = _ring_oracle(queue, batches)
    for keys, key_locations, key_subjects in batches:
        queue.enqueue(keys, key_locations, key_subjects)
    torch.testing.assert_close(queue.features, features)
    assert torch.equal(queue.locations, locations)
    assert torch.equal(queue.subjects, subjects)
    assert int(queue.pointer) == pointer == (4 * batch) % 5


def test_slots_not_written_yet_stay_empty():
    queue = TaggedFeatureQueue(size=5, dim=3)
    queue.enqueue(torch.randn(3, 3), torch.tensor([0, 1, 2]), torch.tensor([7, 8, 9]))
    assert torch.equal(queue.locations, torch.tensor([0, 1, 2, -1, -1]))
    assert torch.equal(queue.subjects, torch.tensor([7, 8, 9, -1, -1]))
    torch.testing.assert_close(queue.features[3:], torch.zeros(2, 3))


def test_keeps_no_gradient_and_stores_unit_keys():
    queue = TaggedFeatureQueue(size=4, dim=3)
    keys = torch.randn(2, 3, requires_grad=True)
    queue.enqueue(keys * 2, torch.tensor([0, 1]), torch.tensor([0, 1]))
    assert not queue.features.requires_grad
    torch.testing.assert_close(queue.features[:2], functional.normalize(keys.detach(), dim=1))


def test_accepts_int32_tags_and_stores_them_as_int64():
    queue = TaggedFeatureQueue(size=3, dim=2)
    queue.enqueue(torch.randn(2, 2), torch.tensor([4, 5], dtype=torch.int32), torch.tensor([1, 2]))
    assert queue.locations.dtype == torch.long
    assert queue.locations.tolist() == [4, 5, -1]


def test_state_dict_round_trip_of_all_buffers_resumes_at_the_same_slot():
    queue = TaggedFeatureQueue(size=5, dim=3)
    first, second = _batches(2, 3, 3, seed=0), _batches(1, 4, 3, seed=1)
    for batch in first:
        queue.enqueue(*batch)
    restored = TaggedFeatureQueue(size=5, dim=3)
    restored.load_state_dict(queue.state_dict())
    for name in BUFFERS:
        assert torch.equal(getattr(restored, name), getattr(queue, name)), name
    for batch in second:
        queue.enqueue(*batch)
        restored.enqueue(*batch)
    for name in BUFFERS:
        assert torch.equal(getattr(restored, name), getattr(queue, name)), name
    assert int(restored.pointer) == (6 + 4) % 5


def test_rejects_bad_arguments():
    with pytest.raises(ValueError, match="size"):
        TaggedFeatureQueue(size=0, dim=3)
    queue = TaggedFeatureQueue(size=4, dim=3)
    tags = torch.tensor([0, 1])
    with pytest.raises(ValueError, match="keys"):
        queue.enqueue(torch.randn(2, 4), tags, tags)
    with pytest.raises(ValueError, match="locations must have shape"):
        queue.enqueue(torch.randn(2, 3), torch.tensor([0, 1, 2]), tags)
    with pytest.raises(ValueError, match="subjects must have shape"):
        queue.enqueue(torch.randn(2, 3), tags, tags[:, None])
    with pytest.raises(ValueError, match="integer"):
        queue.enqueue(torch.randn(2, 3), tags.double(), tags)
    with pytest.raises(ValueError, match="empty slot"):
        queue.enqueue(torch.randn(2, 3), tags, torch.tensor([0, -1]))
    assert int(queue.pointer) == 0 and bool((queue.locations == -1).all())  # nothing written
