"""DrasCLR's location-matched InfoNCE (Yu et al., arXiv 2302.10390): MoCo v2 whose negatives
are past keys of the SAME anatomical location and of OTHER subjects, and its neighbour query."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional

from anatomy_ssl.losses.tagged_feature_queue import TaggedFeatureQueue, check_tags


def location_matched_negative_mask(
    locations: torch.Tensor,
    subjects: torch.Tensor,
    queue_locations: torch.Tensor,
    queue_subjects: torch.Tensor,
    *,
    match_locations: bool = True,
) -> torch.Tensor:
    """Which queued keys are negatives of which query.

    Key `k` is a negative of query `b` when it was taken at the same location
    (`queue_locations[k] == locations[b]`; any location with `match_locations=False`, the
    random-negatives ablation), from another subject
    (`queue_subjects[k] != subjects[b]`), and its slot is filled (tags >= 0; empty slots are
    tagged -1, so even a query tagged -1 never meets them: it has no negative).

    Args:
        locations: `(B,)` integer location index of each query.
        subjects: `(B,)` integer subject id of each query.
        queue_locations: `(K,)` integer location tag of each queued key.
        queue_subjects: `(K,)` integer subject tag of each queued key.

    Returns:
        `(B, K)` bool, True where key `k` is a negative of query `b`.
    """
    other_subject = subjects[:, None] != queue_subjects[None, :]  # (B, K)
    filled = (queue_locations >= 0) & (queue_subjects >= 0)  # (K,)
    negative = other_subject & filled[None, :]  # (B, K)
    if match_locations:
        negative &= locations[:, None] == queue_locations[None, :]
    return negative


def neighbour_query(neighbour_embeddings: torch.Tensor) -> torch.Tensor:
    """DrasCLR's neighbour query: the sum of the embeddings of the anchor's `k` nearest
    locations of the same subject (each encoded with its own location), L2-normalized.

    The neighbour loss is `LocationMatchedInfoNCE` with this query against the anchor's positive
    key, at the anchor's location and subject (so against the anchor location's negatives).

    Args:
        neighbour_embeddings: `(B, k, D)` embeddings of the `k` neighbours of each anchor, used
            as given (the encoder's outputs).

    Returns:
        `(B, D)` unit-norm neighbour queries.
    """
    if neighbour_embeddings.ndim != 3 or neighbour_embeddings.shape[1] < 1:
        raise ValueError(
            "expected neighbour_embeddings (B, k, D) with k >= 1, "
            f"got {tuple(neighbour_embeddings.shape)}"
        )
    return functional.normalize(neighbour_embeddings.sum(dim=1), dim=1)  # (B, D)


class LocationMatchedInfoNCE(nn.Module):
    """InfoNCE of DrasCLR (Yu et al., "DrasCLR: A Self-supervised Framework of Learning
    Disease-related and Anatomy-specific Representation for 3D Medical Images",
    arXiv 2302.10390): MoCo v2 (Chen et al., arXiv:2003.04297; He et al., CVPR 2020, eq. 1)
    in which a region is only contrasted with the SAME region of OTHER subjects, so anatomy
    cannot be the shortcut.

    With L2-normalized query `q` of subject `s` at location `j`, its positive key `k+` and the
    queued keys `k_i` whose tags are location `j` and a subject other than `s` (the set `N_q`)::

        L_q = -log [ exp(q·k+ / T) / (exp(q·k+ / T) + sum_{i in N_q} exp(q·k_i / T)) ]

    computed for the whole batch at once as a cross-entropy over logits `(B, 1 + K)` in which
    the queue entries outside `N_q` are set to -inf (mask of
    `location_matched_negative_mask`), averaged over the `B` queries. A query with no valid
    negative (empty `N_q`) contributes `-log 1 = 0` and no gradient; it still counts in the
    mean. Keys come from the momentum encoder and the queue holds past keys: neither carries a
    gradient.

    DrasCLR's two terms both use this loss:
    - local: `L_local = loss(q, k+, locations, subjects, queue)`, `q` view 1 of the patch,
      `k+` the momentum-encoded view 2;
    - neighbour: `L_ngb = loss(neighbour_query(z_ngb), k+, locations, subjects, queue)`, the
      query built from the `k` nearest locations of the same subject, the key and tags those of
      the anchor;
    - total: `L = L_local + neighbour_weight * L_ngb` (`neighbour_weight` = 1.0 in the paper).
    Enqueue `k+` with its tags after both terms.

    Args:
        temperature: `T`, > 0 (0.2 in the paper).
        match_locations: False widens `N_q` to the keys of other subjects at ANY location (the
            random-negatives ablation; plain MoCo apart from skipping the own subject).
    """

    def __init__(self, temperature: float = 0.2, match_locations: bool = True) -> None:
        super().__init__()
        if not temperature > 0:  # also rejects NaN
            raise ValueError(f"temperature must be > 0, got {temperature}")
        self.temperature = temperature
        self.match_locations = match_locations

    def forward(
        self,
        query: torch.Tensor,
        key: torch.Tensor,
        locations: torch.Tensor,
        subjects: torch.Tensor,
        queue: TaggedFeatureQueue,
    ) -> torch.Tensor:
        """Loss of a batch of queries (see `loss_and_negative_count`)."""
        return self.loss_and_negative_count(query, key, locations, subjects, queue)[0]

    def loss_and_negative_count(
        self,
        query: torch.Tensor,
        key: torch.Tensor,
        locations: torch.Tensor,
        subjects: torch.Tensor,
        queue: TaggedFeatureQueue,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Loss of a batch of queries, and the mean number of valid negatives per query (worth
        logging: with one shared queue it is about `queue.size / n_locations`).

        Args:
            query: `(B, D)` query embeddings (normalized here).
            key: `(B, D)` positive keys, row `b` for `query[b]` (normalized and detached here).
            locations: `(B,)` integer location index of each query.
            subjects: `(B,)` integer subject id of each query.
            queue: the tagged queue of past keys (detached here).

        Returns:
            Scalar loss, the mean over the `B` queries, and a 0-dim float32 mean count of negatives
            per query.
        """
        dim = queue.features.shape[1]
        if query.ndim != 2 or query.shape != key.shape or query.shape[1] != dim:
            raise ValueError(
                f"expected query and key (B, {dim}), got {tuple(query.shape)} and "
                f"{tuple(key.shape)}"
            )
        for name, tags in (("locations", locations), ("subjects", subjects)):
            check_tags(name, tags, query.shape[0], "query")
        q = functional.normalize(query, dim=1)  # (B, D)
        k = functional.normalize(key.detach(), dim=1)  # (B, D)
        mask = location_matched_negative_mask(
            locations.to(queue.locations.device),
            subjects.to(queue.subjects.device),
            queue.locations,
            queue.subjects,
            match_locations=self.match_locations,
        ).to(q.device)  # (B, K)
        positive = (q * k).sum(dim=1, keepdim=True)  # (B, 1)
        # a snapshot: the queue is refilled in place before backward reads these keys
        negative = q @ queue.features.detach().clone().to(q).T  # (B, K)
        negative = negative.masked_fill(~mask, float("-inf"))  # (B, K)
        logits = torch.cat([positive, negative], dim=1) / self.temperature  # (B, 1 + K)
        target = torch.zeros(q.shape[0], dtype=torch.long, device=q.device)
        loss = functional.cross_entropy(logits, target)
        count = mask.sum(dim=1).float().mean()  # (), no gradient: a count
        return loss, count
