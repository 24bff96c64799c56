"""`MinedPairs`: the cross-volume point pairs mined for one source volume (Alice's views), as
`anatomy-ssl mine` stores them with the cache and training reads them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class MinedPairs:
    """The pairs mined for one source volume: voxel m of the source shows the same anatomy as
    voxel m of partner `partner_keys[partner_index[m]]`.

    Attributes:
        source_key: cache key of the source entry.
        partner_keys: `(P,)` cache keys of the partner entries, in mining order.
        source_vox: `(M, S)` int64 voxel indices in the source (inside its body).
        partner_vox: `(M, S)` int64 voxel indices in the partner (inside the partner volume).
        partner_index: `(M,)` int64 index into `partner_keys`.
        similarity: `(M,)` float32 matcher confidence (NaN for registration).
        matcher_id: what mined them (see `mined_pairs_store.matcher_id`).
        requested: points tried over all partners; `refused = requested - M`.
    """

    source_key: str
    partner_keys: tuple[str, ...]
    source_vox: np.ndarray
    partner_vox: np.ndarray
    partner_index: np.ndarray
    similarity: np.ndarray
    matcher_id: str
    requested: int

    def __post_init__(self) -> None:
        count = len(self.source_vox)
        if (
            self.source_vox.ndim != 2
            or self.partner_vox.shape != self.source_vox.shape
            or self.partner_index.shape != (count,)
            or self.similarity.shape != (count,)
        ):
            raise ValueError(
                "need source_vox and partner_vox (M, S), partner_index and similarity (M,); got "
                f"{self.source_vox.shape}, {self.partner_vox.shape}, {self.partner_index.shape}, "
                f"{self.similarity.shape}"
            )
        if not 0 <= count <= self.requested:
            raise ValueError(f"{count} pairs from {self.requested} requested points")
        if count and not 0 <= self.partner_index.min() <= self.partner_index.max() < len(
            self.partner_keys
        ):
            raise ValueError(f"partner_index out of range for {len(self.partner_keys)} partners")

    @property
    def count(self) -> int:
        """M, the number of pairs."""
        return len(self.source_vox)

    @property
    def refused(self) -> int:
        """Points tried that gave no pair (refused by the matcher or outside the partner)."""
        return self.requested - self.count

    def pairs_per_partner(self) -> np.ndarray:
        """`(P,)` int64 number of pairs with each partner."""
        return np.bincount(self.partner_index, minlength=len(self.partner_keys)).astype(np.int64)
