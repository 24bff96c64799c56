"""The mined pairs of a run's volumes as one `PairTable` (entry indices into the run's list)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from anatomy_ssl.data.mined_pairs import MinedPairs
from anatomy_ssl.data.paired_view_stream import PairTable


def pair_table(pairs: Sequence[MinedPairs], entry_keys: Sequence[str]) -> PairTable:
    """Join the per-source files into one table over the run's entries.

    Pairs whose source or partner is not one of `entry_keys` (a volume of another split, say
    the test subjects) are left out, so pretraining never sees a volume it must not.

    Args:
        pairs: mined pairs, one `MinedPairs` per source volume.
        entry_keys: cache keys of the run's entries, in the order of its entry list.

    Raises:
        ValueError: no pair joins two of the run's volumes.
    """
    index = {key: position for position, key in enumerate(entry_keys)}
    parts: dict[str, list[np.ndarray]] = {"se": [], "sv": [], "pe": [], "pv": []}
    for mined in pairs:
        if mined.source_key not in index or mined.count == 0:
            continue
        partners = np.array([index.get(key, -1) for key in mined.partner_keys], dtype=np.int64)
        partner_entry = partners[mined.partner_index]  # (M,)
        keep = partner_entry >= 0
        parts["se"].append(np.full(int(keep.sum()), index[mined.source_key], dtype=np.int64))
        parts["sv"].append(mined.source_vox[keep])
        parts["pe"].append(partner_entry[keep])
        parts["pv"].append(mined.partner_vox[keep])
    if not parts["se"] or not sum(len(rows) for rows in parts["se"]):
        raise ValueError(
            f"none of the {len(pairs)} mined files pairs two of this run's {len(entry_keys)} "
            "volumes (mined on another cache or split?)"
        )
    return PairTable(
        source_entry=np.concatenate(parts["se"]),
        source_vox=np.concatenate(parts["sv"]).astype(np.int64),
        partner_entry=np.concatenate(parts["pe"]),
        partner_vox=np.concatenate(parts["pv"]).astype(np.int64),
    )
