"""Harrell's C-index against its definition, and the cross-validated Cox probe."""

from __future__ import annotations

import numpy as np
import pytest

from anatomy_ssl.evaluation import survival_probe as survival_module
from anatomy_ssl.evaluation.survival_probe import harrell_c_index, survival_probe


def _pairwise_c_index(time, event, risk) -> float:
    """Harrell et al. (1982), pair by pair: of the pairs where the earlier time is an observed
    event, the fraction where that subject has the higher risk (ties in risk: one half)."""
    concordant = comparable = 0.0
    for i in range(len(time)):
        for j in range(len(time)):
            if event[i] and time[i] < time[j]:
                comparable += 1
                concordant += 1.0 if risk[i] > risk[j] else 0.5 if risk[i] == risk[j] else 0.0
    return concordant / comparable


def _cohort(n: int, seed: int = 0):
    """Proportional hazards with an unobserved frailty: (risk, time, event)."""
    rng = np.random.default_rng(seed)
    risk = rng.normal(0.0, 1.0, n)
    event_time = rng.exponential(1.0 / (0.1 * np.exp(risk + rng.normal(0.0, 0.5, n))))
    censor_time = rng.uniform(1.0, 12.0, n)
    return risk, np.minimum(event_time, censor_time), event_time <= censor_time


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_c_index_matches_the_pairwise_definition(seed):
    rng = np.random.default_rng(seed)
    n = 40
    time = rng.permutation(n) + rng.random(n)  # distinct times
    event = rng.random(n) < 0.6
    risk = np.round(rng.normal(size=n), 1)  # ties in risk
    assert harrell_c_index(time, event, risk) == pytest.approx(_pairwise_c_index(time, event, risk))


def test_c_index_extremes_and_undefined():
    time = np.arange(1.0, 11.0)
    event = np.ones(10, dtype=bool)
    assert harrell_c_index(time, event, -time) == 1.0  # earliest death, highest risk
    assert harrell_c_index(time, event, time) == 0.0
    assert harrell_c_index(time, event, np.zeros(10)) == 0.5
    assert np.isnan(harrell_c_index(time, np.zeros(10, dtype=bool), -time))  # no event


def test_embeddings_holding_the_true_risk_reach_the_ceiling():
    risk, time, event = _cohort(200)
    rng = np.random.default_rng(1)
    x = np.outer(risk, rng.normal(size=12)) + 0.1 * rng.normal(size=(200, 12))
    result = survival_probe(x, time, event, true_risk=risk, seeds=(0, 1))
    metrics = result.metrics()
    assert set(metrics) == {"survival_c_index", "survival_c_index_true_risk"}
    assert metrics["survival_c_index_true_risk"] > 0.65  # frailty keeps it well below 1
    assert metrics["survival_c_index"] > metrics["survival_c_index_true_risk"] - 0.05
    assert result.risk.shape == (2, 200) and result.fold_c_index.shape == (2, 5)
    assert (result.n_components == 12).all()  # every column: D < max_components


def test_random_and_constant_embeddings_score_chance():
    scores = []
    for seed in (4, 5, 6):  # one cohort's held-out C-index of noise spreads by about +-0.05
        _, time, event = _cohort(200, seed=seed)
        noise = np.random.default_rng(seed + 1).normal(size=(200, 12))
        scores.append(survival_probe(noise, time, event, seeds=(0, 1)).metrics())
    assert abs(np.mean([s["survival_c_index"] for s in scores]) - 0.5) < 0.04
    constant = survival_probe(np.ones((200, 12)), time, event, seeds=(0,))
    assert constant.metrics() == {"survival_c_index": 0.5}
    assert (constant.n_components == 0).all() and any("no variance" in n for n in constant.notes)


def test_few_events_reduce_folds():
    risk, time, _ = _cohort(30, seed=2)
    event = np.zeros(30, dtype=bool)
    event[np.argsort(time)[:3]] = True
    result = survival_probe(np.c_[risk, np.cos(risk)], time, event, true_risk=risk, seeds=(0,))
    assert result.fold_c_index.shape == (1, 3)
    assert any("reduced from 5 to 3: 3 events" in note for note in result.notes)
    for assignment in result.folds:
        assert sorted(assignment[event].tolist()) == [0, 1, 2]  # an event in every fold


def test_scaler_and_pca_see_the_training_fold_only(monkeypatch):
    created = []
    factory = survival_module.cox_feature_model

    def recording(n_components):
        created.append(factory(n_components))
        return created[-1]

    monkeypatch.setattr(survival_module, "cox_feature_model", recording)
    risk, time, event = _cohort(60)
    x = np.outer(risk, [1.0, -2.0, 0.5]) + np.random.default_rng(0).normal(size=(60, 3)) + 4.0
    result = survival_probe(x, time, event, seeds=(0,))
    assert len(created) == 5
    for fold, pipeline in enumerate(created):
        train = result.folds[0] != fold
        np.testing.assert_allclose(pipeline.named_steps["scale"].mean_, x[train].mean(axis=0))
        assert pipeline.named_steps["pca"].n_samples_ == train.sum()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"time": -1.0}, "negative"),
        ({"time": np.nan}, "time: contains NaN"),
        ({"event": 2.0}, "0 \\(censored\\) or 1"),
        ({"true_risk": np.inf}, "true_risk: contains NaN"),
        ({"embeddings": np.nan}, "NaN or Inf for row 3"),
    ],
)
def test_bad_inputs_are_refused(change, message):
    risk, time, event = _cohort(20)
    inputs = {
        "embeddings": np.c_[risk, risk**2],
        "time": time,
        "event": event.astype(float),
        "true_risk": risk,
    }
    for key, value in change.items():
        inputs[key] = np.array(inputs[key], dtype=float)
        inputs[key][(3,) if inputs[key].ndim == 1 else (3, 0)] = value
    with pytest.raises(ValueError, match=message):
        survival_probe(
            inputs["embeddings"], inputs["time"], inputs["event"], true_risk=inputs["true_risk"]
        )


def test_too_few_events_or_wrong_lengths_are_refused():
    risk, time, _ = _cohort(20)
    with pytest.raises(ValueError, match="1 event"):
        survival_probe(risk[:, None], time, np.eye(20)[0])
    with pytest.raises(ValueError, match="event: shape"):
        survival_probe(risk[:, None], time, np.ones(19))


def test_a_signal_in_one_column_of_many_is_not_lost():
    # standardised, the risk column is 1 of 32 equal-variance directions: a probe that keeps
    # only the top few principal components (this probe's earlier design) misses it
    risk, time, event = _cohort(200, seed=3)
    x = np.random.default_rng(3).normal(size=(200, 32))
    x[:, 5] = risk
    metrics = survival_probe(x, time, event, true_risk=risk, seeds=(0, 1)).metrics()
    assert metrics["survival_c_index"] > metrics["survival_c_index_true_risk"] - 0.06
    old_design = survival_probe(x, time, event, true_risk=risk, seeds=(0, 1), max_components=4)
    assert old_design.metrics()["survival_c_index"] < metrics["survival_c_index"] - 0.05
