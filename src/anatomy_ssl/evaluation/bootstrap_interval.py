"""Bootstrap confidence intervals of a mean, and a paired comparison of two methods.

Percentile bootstrap (Efron and Tibshirani, "An Introduction to the Bootstrap", 1993, ch. 13):
resample the values with replacement, take the mean of each resample, and read the interval off
the quantiles of those means. The paired comparison adds a two-sided sign-flip permutation test
of the mean difference (Fisher's randomization test for paired data; Good, "Permutation Tests",
2000): under the null hypothesis that the methods are exchangeable, each paired difference is as
likely positive as negative.

Resampling is vectorised: one `(B, n)` draw from a `numpy.random.Generator` seeded with `seed`,
so the same inputs always give the same interval.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

DEFAULT_RESAMPLES = 10_000
# All 2^n sign patterns are enumerated (an exact test) up to this many pairs.
MAX_EXACT_PAIRS = 16


@dataclass(frozen=True)
class BootstrapInterval:
    """Mean of a sample with a percentile bootstrap interval.

    Attributes:
        mean: sample mean (NaN when no finite values).
        low: lower end of the interval (equals `mean` for a single value).
        high: upper end of the interval.
        n: number of finite values used.
        confidence: coverage of the interval, e.g. 0.95.
    """

    mean: float
    low: float
    high: float
    n: int
    confidence: float


@dataclass(frozen=True)
class PairedComparison:
    """A method against a baseline on the same paired units (seeds, test volumes, ...).

    Attributes:
        mean_difference: mean of `method - baseline` over the pairs.
        low: lower end of the bootstrap interval of the mean difference.
        high: upper end.
        p_value: two-sided sign-flip permutation p-value of "mean difference = 0" (exact over
            all 2^n sign patterns when n <= `MAX_EXACT_PAIRS` and 2^n <= `num_resamples`,
            otherwise Monte Carlo with the +1 correction). With n pairs it cannot go below
            2 / 2^n (e.g. 0.25 for 3 seeds): pair over test volumes too for a sharper test.
        n: number of pairs where both values are finite.
        confidence: coverage of the interval.
    """

    mean_difference: float
    low: float
    high: float
    p_value: float
    n: int
    confidence: float


def bootstrap_interval(
    values: np.ndarray | list[float],
    *,
    confidence: float = 0.95,
    num_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> BootstrapInterval:
    """Mean and percentile bootstrap interval of a sample; NaN values are left out.

    Args:
        values: `(n,)` sample (e.g. mean Dice of each seed).
        confidence: interval coverage in (0, 1).
        num_resamples: bootstrap resamples B.
        seed: seed of the `numpy.random.Generator` that draws the resamples.

    Returns:
        The interval; NaN everywhere when no value is finite, `low = high = mean` for one value.
    """
    _check(confidence, num_resamples)
    sample = _finite(values)
    n = len(sample)
    if n == 0:
        return BootstrapInterval(float("nan"), float("nan"), float("nan"), 0, confidence)
    mean = float(sample.mean())
    if n == 1:
        return BootstrapInterval(mean, mean, mean, 1, confidence)
    rng = np.random.default_rng(seed)
    low, high = _percentile_interval(_resampled_means(sample, num_resamples, rng), confidence)
    return BootstrapInterval(mean, low, high, n, confidence)


def paired_comparison(
    method: np.ndarray | list[float],
    baseline: np.ndarray | list[float],
    *,
    confidence: float = 0.95,
    num_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> PairedComparison:
    """Mean difference `method - baseline` with a bootstrap interval and a permutation p-value.

    Pairs where either value is NaN are dropped.

    Args:
        method: `(n,)` scores of the method (e.g. Dice per (seed, test volume)).
        baseline: `(n,)` scores of the baseline on the same units, in the same order.
        confidence: interval coverage in (0, 1).
        num_resamples: bootstrap resamples and (when not exact) random sign patterns.
        seed: seed of the generator; the bootstrap draws come first, then the sign flips.

    Returns:
        The comparison; NaN fields (p-value 1) when no pair is complete.
    """
    _check(confidence, num_resamples)
    first = np.asarray(method, dtype=np.float64).ravel()
    second = np.asarray(baseline, dtype=np.float64).ravel()
    if first.shape != second.shape:
        raise ValueError(f"paired samples differ in length: {first.shape} vs {second.shape}")
    keep = np.isfinite(first) & np.isfinite(second)
    differences = first[keep] - second[keep]  # (n,)
    n = len(differences)
    if n == 0:
        nan = float("nan")
        return PairedComparison(nan, nan, nan, 1.0, 0, confidence)
    mean = float(differences.mean())
    if n == 1:
        return PairedComparison(mean, mean, mean, 1.0, 1, confidence)
    rng = np.random.default_rng(seed)
    low, high = _percentile_interval(_resampled_means(differences, num_resamples, rng), confidence)
    p_value = _sign_flip_p_value(differences, num_resamples, rng)
    return PairedComparison(mean, low, high, p_value, n, confidence)


def _resampled_means(
    sample: np.ndarray, num_resamples: int, rng: np.random.Generator
) -> np.ndarray:
    """`(n,)` -> `(B,)` means of B resamples drawn with replacement."""
    n = len(sample)
    indices = rng.integers(0, n, size=(num_resamples, n))  # (B, n)
    means: np.ndarray = sample[indices].mean(axis=1)  # (B,)
    return means


def _percentile_interval(means: np.ndarray, confidence: float) -> tuple[float, float]:
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(means, [tail, 1.0 - tail])
    return float(low), float(high)


def _sign_flip_p_value(
    differences: np.ndarray, num_resamples: int, rng: np.random.Generator
) -> float:
    """Two-sided p-value of a zero mean under random sign flips of the `(n,)` differences."""
    n = len(differences)
    observed = abs(float(differences.mean()))
    # float sums of a permuted sample can differ from the observed one in the last bits
    threshold = observed * (1.0 - 1e-9)
    if n <= MAX_EXACT_PAIRS and 2**n <= num_resamples:
        signs = np.asarray(list(itertools.product((1.0, -1.0), repeat=n)))  # (2^n, n)
        null = np.abs((signs * differences).mean(axis=1))  # (2^n,)
        return float(np.mean(null >= threshold))
    signs = rng.integers(0, 2, size=(num_resamples, n)) * 2.0 - 1.0  # (B, n) in {-1, 1}
    null = np.abs((signs * differences).mean(axis=1))  # (B,)
    return float((1 + np.count_nonzero(null >= threshold)) / (num_resamples + 1))


def _finite(values: np.ndarray | list[float]) -> np.ndarray:
    sample = np.asarray(values, dtype=np.float64).ravel()
    return sample[np.isfinite(sample)]


def _check(confidence: float, num_resamples: int) -> None:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}")
    if num_resamples < 1:
        raise ValueError(f"num_resamples must be at least 1, got {num_resamples}")
