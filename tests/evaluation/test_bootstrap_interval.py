import itertools
import math

import numpy as np
import pytest

from anatomy_ssl.evaluation.bootstrap_interval import (
    MAX_EXACT_PAIRS,
    bootstrap_interval,
    paired_comparison,
)


def _oracle_interval(values, confidence, resamples, seed):
    """Percentile bootstrap, one resample at a time, with the same generator."""
    rng = np.random.default_rng(seed)
    n = len(values)
    means = []
    for _ in range(resamples):
        picks = rng.integers(0, n, size=n)
        means.append(sum(values[i] for i in picks) / n)
    tail = (1 - confidence) / 2
    return np.quantile(means, tail), np.quantile(means, 1 - tail), rng


@pytest.mark.parametrize("n", [2, 3, 7])
@pytest.mark.parametrize("confidence", [0.95, 0.8])
def test_interval_matches_a_loop_over_resamples(n, confidence):
    values = np.random.default_rng(n).normal(0.7, 0.1, size=n)
    result = bootstrap_interval(values, confidence=confidence, num_resamples=500, seed=3)
    low, high, _ = _oracle_interval(list(values), confidence, 500, 3)
    assert result.mean == pytest.approx(values.mean())
    assert result.low == pytest.approx(low) and result.high == pytest.approx(high)
    assert result.low <= result.mean <= result.high and result.n == n
    assert result.confidence == confidence


def test_interval_is_deterministic_and_depends_on_the_seed():
    values = np.random.default_rng(0).random(10)
    first = bootstrap_interval(values, num_resamples=200, seed=1)
    assert first == bootstrap_interval(values, num_resamples=200, seed=1)
    assert first != bootstrap_interval(values, num_resamples=200, seed=2)


def test_interval_leaves_out_nan_and_handles_tiny_samples():
    with_nan = bootstrap_interval([0.5, math.nan, 0.7], num_resamples=100)
    assert with_nan.n == 2 and with_nan.mean == pytest.approx(0.6)
    assert with_nan == bootstrap_interval([0.5, 0.7], num_resamples=100)
    single = bootstrap_interval([0.4])
    assert (single.mean, single.low, single.high, single.n) == (0.4, 0.4, 0.4, 1)
    empty = bootstrap_interval([math.nan])
    assert empty.n == 0 and math.isnan(empty.mean) and math.isnan(empty.low)
    constant = bootstrap_interval([0.3] * 5, num_resamples=50)
    assert constant.low == pytest.approx(0.3) and constant.high == pytest.approx(0.3)


def test_interval_covers_the_true_mean_about_as_often_as_claimed():
    rng = np.random.default_rng(0)
    samples = rng.normal(0.0, 1.0, size=(200, 30))
    covered = [
        (r := bootstrap_interval(sample, num_resamples=400, seed=i)).low <= 0.0 <= r.high
        for i, sample in enumerate(samples)
    ]
    assert 0.88 <= np.mean(covered) <= 0.99  # percentile bootstrap undercovers slightly


def test_bad_arguments_are_rejected():
    with pytest.raises(ValueError, match="confidence"):
        bootstrap_interval([1.0, 2.0], confidence=1.0)
    with pytest.raises(ValueError, match="num_resamples"):
        bootstrap_interval([1.0, 2.0], num_resamples=0)
    with pytest.raises(ValueError, match="differ in length"):
        paired_comparison([1.0, 2.0], [1.0])


def _oracle_paired(method, baseline, confidence, resamples, seed):
    differences = [a - b for a, b in zip(method, baseline, strict=True)]
    n = len(differences)
    low, high, rng = _oracle_interval(differences, confidence, resamples, seed)
    observed = abs(sum(differences) / n)
    if n <= MAX_EXACT_PAIRS and 2**n <= resamples:
        patterns = list(itertools.product([1, -1], repeat=n))
        extreme = sum(
            abs(sum(s * d for s, d in zip(signs, differences, strict=True)) / n) >= observed - 1e-12
            for signs in patterns
        )
        return low, high, extreme / len(patterns)
    extreme = 0
    for _ in range(resamples):
        signs = rng.integers(0, 2, size=n) * 2 - 1
        flipped = abs(sum(s * d for s, d in zip(signs, differences, strict=True)) / n)
        extreme += flipped >= observed - 1e-12
    return low, high, (1 + extreme) / (resamples + 1)


@pytest.mark.parametrize(("n", "resamples"), [(3, 300), (6, 300), (9, 300), (20, 300)])
def test_paired_comparison_matches_a_loop_over_resamples(n, resamples):
    rng = np.random.default_rng(n)
    baseline = rng.normal(0.5, 0.1, size=n)
    method = baseline + rng.normal(0.05, 0.05, size=n)
    result = paired_comparison(method, baseline, num_resamples=resamples, seed=5)
    low, high, p_value = _oracle_paired(list(method), list(baseline), 0.95, resamples, 5)
    assert result.mean_difference == pytest.approx(np.mean(method - baseline))
    assert result.low == pytest.approx(low) and result.high == pytest.approx(high)
    assert result.p_value == pytest.approx(p_value) and result.n == n


def test_paired_comparison_separates_a_real_gain_from_none():
    rng = np.random.default_rng(1)
    baseline = rng.normal(0.6, 0.1, size=40)
    better = paired_comparison(baseline + 0.05 + rng.normal(0, 0.01, 40), baseline)
    assert better.p_value < 0.001 and better.low > 0.0
    same = paired_comparison(baseline, baseline)
    assert same.mean_difference == 0.0 and same.p_value == 1.0
    # three seeds can never be significant at 5%: every sign pattern is as likely
    three = paired_comparison([0.9, 0.91, 0.92], [0.1, 0.1, 0.1])
    assert three.p_value == pytest.approx(0.25)


def test_paired_comparison_drops_incomplete_pairs():
    result = paired_comparison([0.5, math.nan, 0.7, 0.9], [0.4, 0.4, math.nan, 0.8])
    assert result.n == 2 and result.mean_difference == pytest.approx(0.1)
    none = paired_comparison([math.nan], [0.1])
    assert none.n == 0 and math.isnan(none.mean_difference) and none.p_value == 1.0
