"""Gated attention pooling against its equation, the Cox loss against its definition, and the
cross-validated attention-pooling probe on planted signals."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from anatomy_ssl.evaluation.attention_pooling_probe import (
    AttentionPoolingModel,
    GatedAttentionPooling,
    attention_pooling_probe,
    cox_partial_likelihood_loss,
)
from anatomy_ssl.evaluation.cross_validated_probe import regression_probe

SIGNAL_AT = 3  # the one location that carries the targets


def _planted(n: int = 60, n_locations: int = 8, dim: int = 6, seed: int = 0):
    """Subjects whose severity (a mild mode at -1 and a severe one at +1, sd 0.5) lives at
    location SIGNAL_AT only: there it is added to features 0-2 of a distinctive centre (features
    3-5 at 3.0, so the location can be recognised from its content); every other location is
    noise with about twice the severity's variance, and 20% of them are invalid (NaN rows). Mean
    pooling dilutes the signal 8-fold under that noise.

    Returns:
        `(N,)` list of `(L, D)` embeddings and the `(N,)` severity.
    """
    rng = np.random.default_rng(seed)
    severity = rng.choice([-1.0, 1.0], n) + 0.5 * rng.normal(0.0, 1.0, n)
    x = 1.5 * rng.normal(0.0, 1.0, (n, n_locations, dim))
    centre = np.where(np.arange(dim) >= dim // 2, 3.0, 0.0)
    direction = np.where(np.arange(dim) < dim // 2, 1.0, 0.0)
    x[:, SIGNAL_AT] = centre + 0.3 * rng.normal(0.0, 1.0, (n, dim)) + np.outer(severity, direction)
    invalid = rng.random((n, n_locations)) < 0.2
    invalid[:, SIGNAL_AT] = False
    x[invalid] = np.nan
    return list(x), severity


def _survival(severity: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Proportional hazards in the severity, with uniform censoring: (time, event)."""
    rng = np.random.default_rng(seed)
    event_time = rng.exponential(np.exp(-1.5 * severity))
    censor_time = rng.uniform(0.5, 3.0, len(severity))
    return np.minimum(event_time, censor_time), event_time <= censor_time


def _random_pooling(dim: int, hidden: int, seed: int) -> GatedAttentionPooling:
    """A pooling with every parameter drawn at random (`w` starts at zero otherwise)."""
    pooling = GatedAttentionPooling(dim, hidden)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in pooling.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator))
    return pooling


def _pool_by_hand(pooling: GatedAttentionPooling, x: np.ndarray, valid: np.ndarray):
    """Ilse et al. (2018), subject by subject and location by location, in float64."""
    v_weight, v_bias = (p.detach().double().numpy() for p in (pooling.v.weight, pooling.v.bias))
    u_weight, u_bias = (p.detach().double().numpy() for p in (pooling.u.weight, pooling.u.bias))
    w = pooling.w.weight.detach().double().numpy()[0]
    pooled = np.zeros((x.shape[0], x.shape[2]))
    weights = np.zeros(valid.shape)
    for n in range(x.shape[0]):
        locations = [loc for loc in range(x.shape[1]) if valid[n, loc]]
        scores = []
        for loc in locations:
            gate = np.tanh(v_weight @ x[n, loc] + v_bias) / (
                1.0 + np.exp(-(u_weight @ x[n, loc] + u_bias))
            )
            scores.append(w @ gate)
        exponentials = np.exp(np.array(scores) - max(scores))
        for loc, a in zip(locations, exponentials / exponentials.sum(), strict=True):
            weights[n, loc] = a
            pooled[n] += a * x[n, loc]
    return pooled, weights


def test_pooling_matches_the_gated_attention_equation():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 7, 5))
    valid = rng.random((4, 7)) < 0.6
    valid[:, 0] = True  # at least one valid location each
    valid[3] = False
    valid[3, 5] = True  # a subject with a single valid location
    x[~valid] = np.nan  # invalid rows must not leak into anything
    pooling = _random_pooling(5, 3, seed=1)
    pooled, weights = pooling(torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(valid))
    expected_pooled, expected_weights = _pool_by_hand(pooling, np.nan_to_num(x), valid)
    np.testing.assert_allclose(weights.detach().numpy(), expected_weights, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(pooled.detach().numpy(), expected_pooled, rtol=1e-5, atol=1e-5)
    assert (weights.detach().numpy()[~valid] == 0.0).all()  # exactly zero, not merely small
    np.testing.assert_allclose(weights.detach().numpy().sum(axis=1), 1.0, rtol=1e-6)
    assert weights[3, 5].item() == 1.0


def test_an_untrained_model_mean_pools_and_predicts_a_constant_with_finite_gradients():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(3, 6, 4))
    valid = rng.random((3, 6)) < 0.5
    valid[:, 2] = True
    x[~valid] = np.nan
    model = AttentionPoolingModel(4, 2, hidden=5)
    inputs, mask = torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(valid)
    outputs, weights = model(inputs, mask)
    np.testing.assert_allclose(
        weights.detach().numpy(), valid / valid.sum(axis=1, keepdims=True), rtol=1e-6
    )
    assert (outputs == 0).all()
    (outputs.sum() + weights.square().sum()).backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def _cox_loss_by_hand(risk: np.ndarray, time: np.ndarray, event: np.ndarray) -> float:
    """Cox (1972) with Breslow ties, event by event: the risk set of an event at t is everyone
    whose time is >= t (tied subjects included)."""
    terms = [risk[i] - np.log(np.exp(risk[time >= time[i]]).sum()) for i in np.flatnonzero(event)]
    return -float(np.mean(terms))


@pytest.mark.parametrize("ties", [False, True])
def test_cox_loss_matches_the_partial_likelihood(ties):
    rng = np.random.default_rng(3)
    n = 30
    time = rng.integers(1, 8, n).astype(float) if ties else rng.permutation(n) + rng.random(n)
    event = rng.random(n) < 0.6
    risk = rng.normal(size=n)
    assert ties == (len(np.unique(time[event])) < event.sum())  # the tie case has tied events
    loss = cox_partial_likelihood_loss(
        torch.as_tensor(risk), torch.as_tensor(time), torch.as_tensor(event)
    )
    assert loss.item() == pytest.approx(_cox_loss_by_hand(risk, time, event), rel=1e-10)


def test_cox_loss_without_events_is_zero():
    risk = torch.randn(5, generator=torch.Generator().manual_seed(0), requires_grad=True)
    loss = cox_partial_likelihood_loss(risk, torch.arange(5.0), torch.zeros(5, dtype=torch.bool))
    loss.backward()
    assert loss.item() == 0.0
    assert risk.grad is not None and (risk.grad == 0).all()


def test_attention_finds_the_planted_location():
    embeddings, severity = _planted()
    subtype = np.where(severity > 0.0, "severe", "mild")
    time, event = _survival(severity)
    result = attention_pooling_probe(
        embeddings,
        severity=severity,
        subtype=subtype,
        survival_time=time,
        event=event,
        seeds=(0,),
        steps=100,
    )
    metrics = result.metrics()
    assert set(metrics) == {
        "attention_severity_r2",
        "attention_severity_spearman",
        "attention_subtype_balanced_accuracy",
        "attention_survival_c_index",
    }
    assert metrics["attention_severity_r2"] > 0.5
    assert metrics["attention_severity_spearman"] > 0.7
    assert metrics["attention_subtype_balanced_accuracy"] > 0.85
    assert metrics["attention_survival_c_index"] > 0.7
    assert int(result.mean_weights.argmax()) == SIGNAL_AT
    for task in ("severity", "subtype", "survival"):
        assert int(result.weights[task].mean(axis=(0, 1)).argmax()) == SIGNAL_AT, task
    assert result.mean_weights.sum() == pytest.approx(1.0)
    # the same signal, mean-pooled, is diluted under the other locations' noise
    mean_pooled = np.stack([np.nanmean(e, axis=0) for e in embeddings])
    ridge = regression_probe(mean_pooled, severity, seeds=(0,)).metrics()["target_r2"]
    assert metrics["attention_severity_r2"] > ridge + 0.3
    assert result.severity_predictions is not None
    assert result.severity_predictions.shape == (1, 60)
    assert result.subtype_probabilities is not None
    assert result.subtype_probabilities.shape == (1, 60, 2)
    assert result.subtype_classes == ("mild", "severe")
    assert result.survival_fold_c_index is not None
    assert result.survival_fold_c_index.shape == (1, 5)


def test_permuted_targets_are_not_predicted():
    embeddings, severity = _planted()
    shuffled = np.random.default_rng(4).permutation(severity)
    result = attention_pooling_probe(embeddings, severity=shuffled, seeds=(0,), steps=100)
    assert set(result.metrics()) == {"attention_severity_r2", "attention_severity_spearman"}
    assert result.metrics()["attention_severity_r2"] < 0.2
    assert result.subtype_balanced_accuracy is None and result.survival_c_index is None


def test_a_held_out_subject_never_reaches_its_fold_mates_model():
    """Subject 0's embedding and target are changed wildly; the subjects held out with it are
    predicted by models that never saw it, so their predictions stay the same. (Subtype fixes
    the folds, which would otherwise follow the severity.)"""
    embeddings, severity = _planted(n=30)
    subtype = np.where(np.arange(30) % 2 == 0, "a", "b")
    settings = {"subtype": subtype, "n_folds": 3, "seeds": (0, 1), "steps": 30}
    base = attention_pooling_probe(embeddings, severity=severity, **settings)
    changed_embeddings = [e.copy() for e in embeddings]
    changed_embeddings[0] = changed_embeddings[0] * 50.0 + 100.0
    changed_severity = severity.copy()
    changed_severity[0] = 1000.0
    changed = attention_pooling_probe(changed_embeddings, severity=changed_severity, **settings)
    np.testing.assert_array_equal(base.folds, changed.folds)
    assert base.severity_predictions is not None and changed.severity_predictions is not None
    assert base.subtype_probabilities is not None and changed.subtype_probabilities is not None
    for repeat in range(2):
        mates = np.flatnonzero(base.folds[repeat] == base.folds[repeat, 0])[1:]
        others = np.flatnonzero(base.folds[repeat] != base.folds[repeat, 0])
        for before, after in (
            (base.severity_predictions, changed.severity_predictions),
            (base.subtype_probabilities, changed.subtype_probabilities),
        ):
            np.testing.assert_allclose(after[repeat, mates], before[repeat, mates], rtol=1e-6)
            assert not np.allclose(after[repeat, others], before[repeat, others])  # it mattered


def test_same_seeds_give_identical_results_and_leave_the_global_rng_alone():
    embeddings, severity = _planted(n=30)
    time, event = _survival(severity)
    settings = {"severity": severity, "survival_time": time, "event": event, "n_folds": 3}
    state = torch.get_rng_state()
    first = attention_pooling_probe(embeddings, seeds=(0, 1), steps=20, **settings)
    assert torch.equal(torch.get_rng_state(), state)
    second = attention_pooling_probe(embeddings, seeds=(0, 1), steps=20, **settings)
    for field in ("severity_predictions", "survival_risk", "mean_weights", "folds"):
        np.testing.assert_array_equal(getattr(first, field), getattr(second, field))
    assert first.metrics() == second.metrics()
    other = attention_pooling_probe(embeddings, seeds=(2, 3), steps=20, **settings)
    assert not np.array_equal(first.severity_predictions, other.severity_predictions)


def _subjects(n: int = 6, shape: tuple[int, int] = (4, 3)) -> list[np.ndarray]:
    return list(np.random.default_rng(5).normal(size=(n, *shape)))


@pytest.mark.parametrize(
    ("embeddings", "tasks", "message"),
    [
        (_subjects(), {"severity": np.arange(5.0)}, "severity: shape"),
        (_subjects(), {"subtype": ["a", "b"] * 2}, "subtype: shape"),
        (
            _subjects(),
            {"survival_time": np.arange(1.0, 7.0), "event": np.ones(5)},
            "event: shape",
        ),
        ([*_subjects()[:5], np.zeros((5, 3))], {"severity": np.arange(6.0)}, "same locations"),
        ([*_subjects()[:5], np.zeros((4, 2))], {"severity": np.arange(6.0)}, "same locations"),
        (
            [*_subjects()[:2], np.full((4, 3), np.nan), *_subjects()[3:]],
            {"severity": np.arange(6.0)},
            "subject(s) 2 have no valid",
        ),
        (_subjects(n=1), {"severity": np.arange(1.0)}, "at least 2"),
        ([], {"severity": np.arange(0.0)}, "no subjects"),
        (_subjects(), {}, "no task"),
        (_subjects(), {"survival_time": np.arange(1.0, 7.0)}, "both survival_time and event"),
        (_subjects(), {"severity": np.ones(6)}, "constant"),
        (_subjects(), {"subtype": ["a"] * 6}, "two classes"),
        (
            _subjects(),
            {"survival_time": np.arange(1.0, 7.0), "event": np.eye(6)[0]},
            "1 event",
        ),
    ],
)
def test_bad_inputs_are_rejected(embeddings, tasks, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        attention_pooling_probe(embeddings, **tasks)
