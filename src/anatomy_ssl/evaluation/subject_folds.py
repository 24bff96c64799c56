"""Subject-level cross-validation folds (stratified, repeated over fixed seeds) and the checks
every probe applies to its embedding table first."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

DEFAULT_SEEDS = (0, 1, 2)
MIN_TEST_SUBJECTS = 2  # per held-out fold


def check_embeddings(
    embeddings: np.ndarray, *, row_names: Sequence[str] | None = None
) -> np.ndarray:
    """Validate an embedding table.

    Args:
        embeddings: `(N, D)` numeric, finite.
        row_names: `(N,)` names used in messages (e.g. subject ids); row numbers otherwise.

    Returns:
        `(N, D)` float64 copy.

    Raises:
        ValueError: wrong shape, a non-numeric dtype, a row count that differs from
            `row_names`, or NaN / Inf values (the rows are named).
    """
    array = np.asarray(embeddings)
    if array.ndim != 2 or array.shape[1] == 0:
        raise ValueError(f"embeddings must be a (N, D) table with D >= 1; got shape {array.shape}")
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise ValueError(f"embeddings must be numeric; got dtype {array.dtype}")
    if row_names is not None and len(row_names) != len(array):
        raise ValueError(f"{len(array)} embedding rows but {len(row_names)} subject ids")
    array = array.astype(np.float64)
    bad = np.flatnonzero(~np.isfinite(array).all(axis=1))
    if bad.size:
        names = [row_names[i] if row_names is not None else f"row {i}" for i in bad[:5].tolist()]
        more = f" and {bad.size - 5} more" if bad.size > 5 else ""
        raise ValueError(f"embeddings contain NaN or Inf for {', '.join(names)}{more}")
    return array


def finite_vector(values: np.ndarray, n: int, what: str) -> np.ndarray:
    """`(n,)` finite float64 copy of `values` (a per-subject target).

    Raises:
        ValueError: not numeric, not of length n, or NaN / Inf (named by `what`).
    """
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{what}: values must be numeric") from error
    if array.shape != (n,):
        raise ValueError(f"{what}: shape {array.shape} for {n} subjects")
    if not np.isfinite(array).all():
        raise ValueError(f"{what}: contains NaN or Inf")
    return array


def class_codes(
    labels: Sequence[Any] | np.ndarray, n: int, name: str
) -> tuple[tuple[str, ...], np.ndarray, np.ndarray]:
    """Encode per-subject class labels.

    Returns:
        `(classes, codes, counts)`: `(C,)` sorted class names, `(n,)` int code of each subject,
        `(C,)` subjects per class.

    Raises:
        ValueError: not `n` labels, or a single class (named by `name`).
    """
    array = np.asarray(labels)
    if array.shape != (n,):
        raise ValueError(f"{name}: shape {array.shape} labels for {n} embedding rows")
    values, codes, counts = np.unique(array, return_inverse=True, return_counts=True)
    classes = tuple(str(value) for value in values)
    if len(classes) < 2:
        raise ValueError(f"{name}: every subject has class {classes[0]!r}; need two classes")
    return classes, codes, counts


@dataclass(frozen=True)
class FoldPlan:
    """Subject-level K-fold assignment, repeated once per seed.

    Attributes:
        folds: `(R, N)` int fold of each subject in each repeat (R = len(seeds)).
        seeds: `(R,)` the seed of each repeat.
        n_folds: K actually used (may be below the K asked for; see `notes`).
        notes: why K was reduced, if it was.
    """

    folds: np.ndarray
    seeds: tuple[int, ...]
    n_folds: int
    notes: tuple[str, ...] = ()

    def splits(self) -> Iterator[tuple[int, int, np.ndarray, np.ndarray]]:
        """Yield `(repeat, fold, train, test)`; `train` and `test` are `(n,)` row indices."""
        for repeat, assignment in enumerate(self.folds):
            for fold in range(self.n_folds):
                held_out = assignment == fold
                yield repeat, fold, np.flatnonzero(~held_out), np.flatnonzero(held_out)


def plan_folds(
    n_subjects: int,
    *,
    n_folds: int = 5,
    seeds: Sequence[int] = DEFAULT_SEEDS,
    strata: np.ndarray | None = None,
    continuous: np.ndarray | None = None,
    fold_limits: Mapping[str, int] | None = None,
) -> FoldPlan:
    """Deal subjects to folds, evenly within each stratum.

    Subjects are ordered by stratum (random order inside one) and dealt round-robin, so each
    stratum is spread evenly over the folds and fold sizes differ by at most one. A continuous
    target is stratified by blocks of K consecutive subjects in value order, one of each block
    per fold. Fold labels are shuffled per seed. K is reduced so that every held-out fold has at
    least two subjects and no limit in `fold_limits` is exceeded.

    Args:
        n_subjects: N.
        n_folds: K asked for (>= 2).
        seeds: one repeat per seed.
        strata: `(N,)` int stratum of each subject (e.g. class codes), or None.
        continuous: `(N,)` float values to stratify by blocks (ignored if `strata` is given).
        fold_limits: reason -> the most folds it allows (e.g. "class 'x' has 3 subjects": 3).

    Returns:
        The plan.

    Raises:
        ValueError: K < 2 asked for, no seeds, or fewer than 2 folds possible (names the reason).
    """
    if n_folds < 2:
        raise ValueError(f"n_folds must be at least 2; got {n_folds}")
    if not seeds:
        raise ValueError("at least one seed is needed")
    for what, values in (("strata", strata), ("continuous", continuous)):
        if values is not None and np.shape(values) != (n_subjects,):
            raise ValueError(f"{what}: shape {np.shape(values)} for {n_subjects} subjects")
    limits = {
        f"{n_subjects} subjects (at least {MIN_TEST_SUBJECTS} per held-out fold)": n_subjects
        // MIN_TEST_SUBJECTS,
        **(fold_limits or {}),
    }
    reason, cap = min(limits.items(), key=lambda item: item[1])
    k = min(n_folds, cap)
    if k < 2:
        raise ValueError(
            f"too few subjects for cross-validation: {reason} allows at most {cap} fold(s), "
            "and at least 2 are needed"
        )
    notes = () if k == n_folds else (f"n_folds reduced from {n_folds} to {k}: {reason}",)
    folds = np.empty((len(seeds), n_subjects), dtype=np.int64)
    for repeat, seed in enumerate(seeds):
        rng = np.random.default_rng(seed)
        if strata is not None:
            key = np.asarray(strata)
        elif continuous is not None:
            rank = np.empty(n_subjects, dtype=np.int64)
            rank[np.lexsort((rng.random(n_subjects), np.asarray(continuous)))] = np.arange(
                n_subjects
            )
            key = rank // k  # blocks of k similar values
        else:
            key = np.zeros(n_subjects, dtype=np.int64)
        order = np.lexsort((rng.random(n_subjects), key))  # by stratum, random inside
        folds[repeat, order] = rng.permutation(k)[np.arange(n_subjects) % k]
    return FoldPlan(folds=folds, seeds=tuple(int(s) for s in seeds), n_folds=k, notes=notes)
