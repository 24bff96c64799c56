"""Subject-level train / val / test splits: all images of a subject land in the same split."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping

import numpy as np

from anatomy_ssl.errors import ConfigError, ManifestError
from anatomy_ssl.manifests.manifest import Manifest

DEFAULT_FRACTIONS: Mapping[str, float] = {"train": 0.8, "val": 0.1, "test": 0.1}
_FRACTION_TOLERANCE = 1e-6


def assign_subject_splits(
    manifest: Manifest,
    *,
    fractions: Mapping[str, float] = DEFAULT_FRACTIONS,
    seed: int = 0,
    keep_existing: bool = True,
) -> Manifest:
    """A copy of `manifest` where every subject is in exactly one split.

    With `keep_existing`, a subject that already has a split on any record keeps it, and its other
    records follow it. The remaining subjects, sorted by id, are shuffled with
    `numpy.random.default_rng(seed)` and cut in the order of `fractions`, with counts rounded by
    largest remainder (ties: earlier split first) so they sum to the number of subjects. The
    fractions apply to the remaining subjects only. Same manifest + seed -> same splits.

    Args:
        manifest: the manifest to split.
        fractions: split name -> fraction; non-negative, summing to 1 (within 1e-6).
        seed: random seed of the shuffle.
        keep_existing: keep splits already present; False reassigns every subject.

    Returns:
        The manifest with every record's split set, record order unchanged.

    Raises:
        ConfigError: bad fractions (empty, a negative or non-finite value, sum not 1, empty name).
        ManifestError: with `keep_existing`, a subject whose records already have two splits.
    """
    names = _checked_split_names(fractions)
    assigned: dict[str, str | None] = {}
    if keep_existing:
        existing: dict[str, set[str]] = {}
        for record in manifest:
            if record.split is not None:
                existing.setdefault(record.subject_id, set()).add(record.split)
        conflicts = [
            f"subject {subject} is in several splits: {', '.join(sorted(splits))}"
            for subject, splits in sorted(existing.items())
            if len(splits) > 1
        ]
        if conflicts:
            raise ManifestError(manifest.source, conflicts)
        assigned = {subject: splits.pop() for subject, splits in existing.items()}
    remaining = [subject for subject in manifest.subjects() if subject not in assigned]
    order = np.random.default_rng(seed).permutation(len(remaining))
    counts = split_sizes(len(remaining), [fractions[name] for name in names])
    start = 0
    for name, count in zip(names, counts, strict=True):
        for index in order[start : start + count]:
            assigned[remaining[index]] = name
        start += count
    return manifest.with_splits(assigned)


def split_sizes(n: int, fractions: list[float]) -> list[int]:
    """Integer sizes closest to `n * fraction` that sum to `n` (largest-remainder rounding).

    Args:
        n: number of items.
        fractions: non-negative fractions with a positive sum (normalized to sum to 1).

    Returns:
        One count per fraction; ties in the remainder go to the earlier fraction.
    """
    total = math.fsum(fractions)
    # Normalizing lets the 1e-6 slack in the sum never push the floors above n.
    exact = [n * fraction / total for fraction in fractions]
    counts = [math.floor(value) for value in exact]
    by_remainder = sorted(range(len(exact)), key=lambda i: (-(exact[i] - counts[i]), i))
    for i in by_remainder[: n - sum(counts)]:
        counts[i] += 1
    return counts


def split_counts(manifest: Manifest) -> dict[str, int]:
    """Number of distinct subjects per split name, sorted by name; records without a split are
    not counted (a subject in two splits counts in both)."""
    pairs = {(record.split, record.subject_id) for record in manifest if record.split is not None}
    counts = Counter(split for split, _ in pairs)
    return {split: counts[split] for split in sorted(counts)}


def _checked_split_names(fractions: Mapping[str, float]) -> list[str]:
    """The split names in order, after checking the fractions (ConfigError if bad)."""
    if not fractions:
        raise ConfigError("split fractions must name at least one split")
    for name, value in fractions.items():
        if not isinstance(name, str) or not name:
            raise ConfigError(f"split names must be non-empty strings, got {name!r}")
        if not math.isfinite(value) or value < 0:
            raise ConfigError(f"split fraction of {name!r} must be finite and >= 0, got {value}")
    total = math.fsum(fractions.values())
    if abs(total - 1.0) > _FRACTION_TOLERANCE:
        raise ConfigError(f"split fractions must sum to 1, got {total} ({dict(fractions)})")
    return list(fractions)
