"""A first-in-first-out ring of past keys, each tagged with its anatomical location and subject:
the bounded-memory negatives of DrasCLR (Yu et al., arXiv 2302.10390)."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional

from anatomy_ssl.losses.cross_rank_gather import gather_without_grad

EMPTY_TAG = -1
"""Tag of a slot that holds no key yet; such a slot is never a negative."""


def check_tags(name: str, tags: torch.Tensor, count: int, item: str) -> None:
    """Raise ValueError unless `tags` is `(count,)` integers, one per `item` ("key", "query")."""
    if tags.shape != (count,):
        raise ValueError(
            f"{name} must have shape ({count},), one tag per {item}, got {tuple(tags.shape)}"
        )
    if tags.is_floating_point() or tags.is_complex() or tags.dtype == torch.bool:
        raise ValueError(f"{name} must hold integer tags, got dtype {tags.dtype}")


class TaggedFeatureQueue(nn.Module):
    """The `size` most recent L2-normalized keys of the global batch, each with an int64
    `location` tag (index of the atlas-space patch location) and an int64 `subject` tag, held in
    registered buffers so they are saved with the model's `state_dict` (and restored on resume).

    DrasCLR compares a region only with the SAME region of OTHER subjects, so its negatives are
    per location. The authors keep one MoCo queue of 4096 keys per location (4096 x 581 x 128
    fp32 = 1.2 GB per GPU); here ONE queue is shared by all locations and the loss masks it by tag
    (`LocationMatchedInfoNCE`). Memory is bounded by the setting alone:
    `size x D x 4` bytes of fp32 features plus `size x 2 x 8` bytes of tags (e.g. 65536 keys of
    128 dims: 32 MiB + 1 MiB), whatever the number of locations. The price: a location sees on
    average `size / n_locations` negatives, so pick `size` as about
    `n_locations x wanted negatives per location` and log the loss's negative count.

    Keys are written in ring order starting at `pointer`; the slot at `pointer` always holds the
    oldest key. Unlike MoCo's random initial keys, slots not written yet hold zeros tagged
    `EMPTY_TAG` (-1) in both `locations` and `subjects`, so they are never used as negatives.

    Attributes:
        features: `(K, D)` buffer of unit vectors (zeros in empty slots).
        locations: `(K,)` int64 buffer, location tag of each slot (-1 when empty).
        subjects: `(K,)` int64 buffer, subject tag of each slot (-1 when empty).
        pointer: 0-dim long buffer, the next slot to write.

    Args:
        size: `K`, the number of keys kept (over all locations together).
        dim: `D`, the embedding size.
    """

    features: torch.Tensor
    locations: torch.Tensor
    subjects: torch.Tensor
    pointer: torch.Tensor

    def __init__(self, size: int, dim: int) -> None:
        super().__init__()
        if size < 1 or dim < 1:
            raise ValueError(f"need size >= 1 and dim >= 1, got size={size}, dim={dim}")
        self.size = size
        self.register_buffer("features", torch.zeros(size, dim))
        self.register_buffer("locations", torch.full((size,), EMPTY_TAG, dtype=torch.long))
        self.register_buffer("subjects", torch.full((size,), EMPTY_TAG, dtype=torch.long))
        self.register_buffer("pointer", torch.zeros((), dtype=torch.long))

    @torch.no_grad()
    def enqueue(self, keys: torch.Tensor, locations: torch.Tensor, subjects: torch.Tensor) -> None:
        """Normalize `keys`, gather them and their tags from every rank (in rank order) and write
        them over the oldest entries, wrapping around the end. If the global batch is larger than
        the queue, only its last `K` keys are kept.

        Call it after the loss of the step (MoCo order: a batch is never its own negative).

        Args:
            keys: `(N, D)` local keys; `N` must be the same on every rank.
            locations: `(N,)` integer location index of each key, >= 0.
            subjects: `(N,)` integer subject id of each key, >= 0 and unique across the whole
                dataset (not only the rank's shard), e.g. the dataset index of the volume.
        """
        dim = self.features.shape[1]
        if keys.ndim != 2 or keys.shape[1] != dim:
            raise ValueError(f"expected keys (N, {dim}), got {tuple(keys.shape)}")
        for name, tags in (("locations", locations), ("subjects", subjects)):
            check_tags(name, tags, keys.shape[0], "key")
            if bool((tags < 0).any()):  # -1 marks an empty slot
                raise ValueError(f"{name} must be >= 0 (-1 marks an empty slot)")
        gathered = gather_without_grad(functional.normalize(keys, dim=1))  # (M, D), M = world * N
        tags = torch.stack(
            [locations.to(keys.device, torch.long), subjects.to(keys.device, torch.long)], dim=1
        )  # (N, 2), on the keys' device for the collective
        tags = gather_without_grad(tags)  # (M, 2): one collective for both tags
        count = gathered.shape[0]
        kept = gathered[-self.size :]  # (min(M, K), D)
        kept_tags = tags[-self.size :]  # (min(M, K), 2)
        first = self.pointer + (count - kept.shape[0])  # slot of the first kept key
        slots = (first + torch.arange(kept.shape[0], device=self.features.device)) % self.size
        self.features[slots] = kept.to(self.features)
        self.locations[slots] = kept_tags[:, 0].to(self.locations.device)
        self.subjects[slots] = kept_tags[:, 1].to(self.subjects.device)
        self.pointer.copy_((self.pointer + count) % self.size)
