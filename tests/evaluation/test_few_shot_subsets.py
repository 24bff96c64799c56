import itertools

import pytest

from anatomy_ssl.errors import ConfigError
from anatomy_ssl.evaluation.few_shot_subsets import few_shot_subsets, resolve_k, subject_order

SUBJECTS = [f"s{i:02d}" for i in range(12)]


def test_subsets_are_deterministic_and_independent_of_input_order():
    first = few_shot_subsets(SUBJECTS, [1, 2, 5], seed=0)
    assert first == few_shot_subsets(list(reversed(SUBJECTS)), [5, 1, 2], seed=0)
    assert list(first) == [1, 2, 5]
    assert all(len(subset) == k and list(subset) == sorted(subset) for k, subset in first.items())


def test_subsets_are_nested_within_a_seed_and_differ_between_seeds():
    by_seed = [few_shot_subsets(SUBJECTS, [1, 2, 5, 10, "all"], seed=seed) for seed in range(5)]
    for subsets in by_seed:
        sizes = list(subsets)
        assert sizes == [1, 2, 5, 10, 12]
        for small, large in itertools.pairwise(sizes):
            assert set(subsets[small]) < set(subsets[large])
        assert subsets[12] == tuple(SUBJECTS)
    assert len({subsets[5] for subsets in by_seed}) == 5  # different draws per seed
    assert len({subsets[1] for subsets in by_seed}) > 1


def test_subject_level_draws_and_all_deduplicated():
    with_repeats = [*SUBJECTS, "s03", "s03"]  # one subject with three volumes
    assert subject_order(with_repeats, seed=4) == subject_order(SUBJECTS, seed=4)
    assert sorted(subject_order(SUBJECTS, seed=4)) == SUBJECTS
    assert list(few_shot_subsets(SUBJECTS, [12, "all", "ALL"], seed=0)) == [12]


def test_resolve_k_and_errors():
    assert resolve_k("all", 7) == 7 and resolve_k(3, 7) == 3 and resolve_k("3", 7) == 3
    for bad in [0, -1, "many", True]:
        with pytest.raises(ConfigError, match="positive integer"):
            resolve_k(bad, 7)
    with pytest.raises(ConfigError, match="exceeds the 7 training subjects"):
        resolve_k(8, 7)
    with pytest.raises(ConfigError, match="no training subjects"):
        few_shot_subsets([], [1], seed=0)
