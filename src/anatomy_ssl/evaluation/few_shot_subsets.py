"""Which training subjects a few-shot run may see: deterministic, nested k-subsets per seed.

For each seed the (unique, sorted) training subjects are shuffled once; the k-subset is the first
k of that order. So within a seed the subsets are nested (the 1-shot subject is among the 2-shot
ones, ...), which makes a label-efficiency curve measure adding labels rather than swapping them,
and different seeds draw different subsets. Subjects, not volumes, are drawn: all volumes of a
drawn subject are used, and no subject is split across k-subsets.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from anatomy_ssl.errors import ConfigError

ALL = "all"
# Mixed into the seed so the subset draw is independent of the training randomness of that seed.
SUBSET_STREAM = 0x5E1EC7


def resolve_k(k: int | str, pool_size: int) -> int:
    """Number of subjects `k` stands for: `"all"` is the whole pool.

    Raises:
        ConfigError: k is not a positive integer or "all", or exceeds the pool.
    """
    if isinstance(k, str):
        if k.strip().lower() == ALL:
            return pool_size
        if not k.strip().isdigit():
            raise ConfigError(f"k must be a positive integer or {ALL!r}, got {k!r}")
        k = int(k)
    if isinstance(k, bool) or int(k) < 1:
        raise ConfigError(f"k must be a positive integer or {ALL!r}, got {k!r}")
    if int(k) > pool_size:
        raise ConfigError(f"k={k} exceeds the {pool_size} training subjects available")
    return int(k)


def subject_order(subject_ids: Sequence[str], *, seed: int) -> tuple[str, ...]:
    """The unique subjects in the random order of `seed` (independent of the input order).

    Args:
        subject_ids: training subject ids (duplicates allowed: one subject, several volumes).
        seed: the few-shot seed.

    Returns:
        `(P,)` unique ids, shuffled.
    """
    pool = sorted(set(subject_ids))
    if not pool:
        raise ConfigError("no training subjects to draw few-shot subsets from")
    rng = np.random.default_rng([SUBSET_STREAM, seed])
    return tuple(pool[index] for index in rng.permutation(len(pool)))


def few_shot_subsets(
    subject_ids: Sequence[str], k_values: Sequence[int | str], *, seed: int
) -> dict[int, tuple[str, ...]]:
    """The k-subset of training subjects for each k, for one seed.

    Args:
        subject_ids: training subject ids.
        k_values: subset sizes, positive integers or "all"; values that resolve to the same
            size (e.g. 10 and "all" with 10 subjects) give one entry.
        seed: the few-shot seed; the same seed always gives the same subsets.

    Returns:
        resolved k -> the k subject ids (sorted), in increasing k. Nested within a seed.

    Raises:
        ConfigError: a k that is not a positive integer or "all", or exceeds the subjects.
    """
    order = subject_order(subject_ids, seed=seed)
    sizes = sorted({resolve_k(k, len(order)) for k in k_values})
    return {k: tuple(sorted(order[:k])) for k in sizes}
