"""Fold planning, and logistic / ridge probes with known answers and no leakage."""

from __future__ import annotations

import numpy as np
import pytest

from anatomy_ssl.evaluation import cross_validated_probe
from anatomy_ssl.evaluation.cross_validated_probe import (
    classification_probe,
    held_out_auc,
    regression_probe,
)
from anatomy_ssl.evaluation.subject_folds import check_embeddings, plan_folds

FAST_CS = (0.01, 1.0, 100.0)  # a short grid keeps the tests quick


def _severity_data(n: int, d: int = 8, noise: float = 0.05, seed: int = 0):
    """Severity in [0, 1] and `(n, d)` embeddings that hold it along one direction."""
    rng = np.random.default_rng(seed)
    severity = rng.beta(1.3, 2.5, n)
    direction = rng.normal(size=d)
    embeddings = np.outer(severity, direction) + noise * rng.normal(size=(n, d))
    return severity, embeddings


# --- fold planning -----------------------------------------------------------------------------


@pytest.mark.parametrize("n_folds", [2, 3, 5])
def test_folds_are_balanced_within_strata(n_folds):
    strata = np.repeat([0, 1, 2], [31, 17, 12])
    plan = plan_folds(len(strata), n_folds=n_folds, seeds=(0, 1), strata=strata)
    assert plan.folds.shape == (2, 60) and plan.n_folds == n_folds and plan.notes == ()
    for assignment in plan.folds:
        sizes = np.bincount(assignment, minlength=n_folds)
        assert sizes.max() - sizes.min() <= 1
        for stratum in range(3):
            counts = np.bincount(assignment[strata == stratum], minlength=n_folds)
            assert counts.max() - counts.min() <= 1
    tested = [test for _, _, _, test in plan.splits()]
    assert sorted(np.concatenate(tested[:n_folds]).tolist()) == list(range(60))
    for _, _, train, test in plan.splits():
        assert not set(train) & set(test) and len(train) + len(test) == 60


def test_folds_are_seeded():
    first = plan_folds(40, seeds=(3, 4)).folds
    np.testing.assert_array_equal(first, plan_folds(40, seeds=(3, 4)).folds)
    assert (first[0] != first[1]).any()


def test_continuous_targets_are_stratified_by_value_blocks():
    values = np.random.default_rng(1).exponential(size=100)
    plan = plan_folds(100, n_folds=5, seeds=(0, 1), continuous=values)
    for assignment in plan.folds:
        # each block of 5 neighbours in value order is spread over the 5 folds
        blocks = assignment[np.argsort(values)].reshape(20, 5)
        np.testing.assert_array_equal(np.sort(blocks, axis=1), np.tile(np.arange(5), (20, 1)))
    assert (plan.folds[0] != plan.folds[1]).any()


def test_folds_are_reduced_with_a_note_or_refused():
    plan = plan_folds(30, n_folds=5, strata=np.repeat([0, 1], [27, 3]), fold_limits={"x": 3})
    assert plan.n_folds == 3 and "reduced from 5 to 3: x" in plan.notes[0]
    assert plan_folds(6, n_folds=5).n_folds == 3  # at least 2 subjects per held-out fold
    with pytest.raises(ValueError, match=r"3 subjects.*at least 2"):
        plan_folds(3)
    with pytest.raises(ValueError, match="class 'a' has 1"):
        plan_folds(30, fold_limits={"class 'a' has 1 subject(s)": 1})
    with pytest.raises(ValueError, match="n_folds"):
        plan_folds(30, n_folds=1)


# --- input checks ------------------------------------------------------------------------------


def test_bad_embeddings_are_refused_by_name():
    table = np.zeros((4, 3))
    table[2, 1] = np.nan
    with pytest.raises(ValueError, match="NaN or Inf for c"):
        check_embeddings(table, row_names=["a", "b", "c", "d"])
    table[2, 1] = np.inf
    with pytest.raises(ValueError, match="row 2"):
        check_embeddings(table)
    with pytest.raises(ValueError, match="shape"):
        check_embeddings(np.zeros(4))
    with pytest.raises(ValueError, match="numeric"):
        check_embeddings(np.array([["a"], ["b"]]))
    with pytest.raises(ValueError, match="4 embedding rows but 3"):
        check_embeddings(np.zeros((4, 2)), row_names=["a", "b", "c"])


def test_bad_labels_and_targets_are_refused():
    x = np.random.default_rng(0).normal(size=(20, 3))
    with pytest.raises(ValueError, match="labels for 20"):
        classification_probe(x, np.zeros(19))
    with pytest.raises(ValueError, match="every subject has class '1'"):
        classification_probe(x, np.ones(20, dtype=int))
    with pytest.raises(ValueError, match="class 'b' has 1 subject"):
        classification_probe(x, np.array(["a"] * 19 + ["b"]))
    with pytest.raises(ValueError, match="constant"):
        regression_probe(x, np.full(20, 2.0))
    with pytest.raises(ValueError, match="NaN or Inf"):
        regression_probe(x, np.r_[np.nan, np.arange(19.0)])


# --- known answers -----------------------------------------------------------------------------


def test_embeddings_holding_severity_are_probed_almost_perfectly():
    severity, x = _severity_data(200)
    binary = classification_probe(
        x, severity > np.median(severity), name="severity", seeds=(0,), cs=FAST_CS
    )
    metrics = binary.metrics()
    assert set(metrics) == {"severity_auc", "severity_balanced_accuracy"}
    assert metrics["severity_auc"] > 0.97
    assert metrics["severity_balanced_accuracy"] > 0.9
    assert binary.probabilities.shape == (1, 200, 2)
    np.testing.assert_allclose(binary.probabilities.sum(axis=-1), 1.0)
    assert binary.classes == ("False", "True")
    continuous = regression_probe(x, severity, name="severity", seeds=(0, 1))
    assert continuous.metrics()["severity_r2"] > 0.9
    assert continuous.metrics()["severity_spearman"] > 0.9
    assert continuous.predictions.shape == (2, 200) and continuous.chosen_alpha.shape == (2, 5)


def test_random_embeddings_score_chance():
    severity, _ = _severity_data(300)
    x = np.random.default_rng(7).normal(size=(300, 8))
    binary = classification_probe(x, severity > np.median(severity), seeds=(0, 1), cs=FAST_CS)
    assert abs(binary.metrics()["target_auc"] - 0.5) < 0.1
    assert abs(binary.metrics()["target_balanced_accuracy"] - 0.5) < 0.1
    continuous = regression_probe(x, severity, seeds=(0,))
    assert continuous.metrics()["target_r2"] < 0.05
    assert abs(continuous.metrics()["target_spearman"]) < 0.15


def test_a_constant_embedding_scores_exactly_chance():
    severity, _ = _severity_data(60)
    constant = np.ones((60, 4))
    binary = classification_probe(constant, severity > np.median(severity), seeds=(0,), cs=FAST_CS)
    assert binary.metrics() == {"target_auc": 0.5, "target_balanced_accuracy": 0.5}
    subtype = np.repeat(["a", "b", "c"], 20)
    multi = classification_probe(constant, subtype, seeds=(0,), cs=FAST_CS)
    assert multi.metrics()["target_auc"] == 0.5
    assert multi.metrics()["target_balanced_accuracy"] == pytest.approx(1 / 3)
    assert regression_probe(constant, severity, seeds=(0,)).metrics()["target_r2"] <= 0.0


def test_multiclass_subtype_signal_is_found():
    rng = np.random.default_rng(3)
    codes = rng.integers(0, 3, 150)
    x = rng.normal(size=(150, 6))
    x[:, :3] += 3.0 * np.eye(3)[codes]  # one direction per subtype
    labels = np.array(["centrilobular", "panlobular", "paraseptal"])[codes]
    result = classification_probe(x, labels, name="subtype", seeds=(0,), cs=FAST_CS)
    assert result.classes == ("centrilobular", "panlobular", "paraseptal")
    assert result.metrics()["subtype_auc"] > 0.95
    assert result.metrics()["subtype_balanced_accuracy"] > 0.85
    assert (result.predictions[0] == result.labels).mean() > 0.85


def test_pca_option_keeps_a_low_rank_signal():
    severity, x = _severity_data(120, d=20)
    result = regression_probe(x, severity, seeds=(0,), max_components=3)
    assert result.metrics()["target_r2"] > 0.9


def test_small_classes_reduce_folds_and_fix_c_with_notes():
    rng = np.random.default_rng(0)
    labels = np.repeat(["a", "b", "c"], 2)
    result = classification_probe(rng.normal(size=(6, 3)), labels, seeds=(0,), cs=FAST_CS)
    assert result.fold_auc.shape == (1, 2)
    assert any("reduced from 5 to 2" in note for note in result.notes)
    assert any("C fixed" in note for note in result.notes)
    assert np.isfinite(result.metrics()["target_auc"])


def test_held_out_auc_is_nan_with_a_reason_when_a_class_is_absent():
    probabilities = np.full((4, 3), 1 / 3)
    auc, reason = held_out_auc(np.array([0, 0, 1, 1]), probabilities, ("a", "b", "c"))
    assert np.isnan(auc) and "'c'" in reason
    auc, reason = held_out_auc(np.array([0, 1, 2, 2]), np.eye(3)[[0, 1, 2, 2]], ("a", "b", "c"))
    assert auc == 1.0 and reason is None


# --- no leakage --------------------------------------------------------------------------------


def test_a_feature_present_only_in_one_held_out_fold_cannot_be_exploited():
    labels = np.repeat([0, 1], 30)
    plan = plan_folds(60, n_folds=5, seeds=(0,), strata=labels)
    x = np.zeros((60, 3))
    in_fold = plan.folds[0] == 0
    x[in_fold, 0] = 5.0 * (2 * labels[in_fold] - 1)  # the label itself, in fold 0 only
    result = classification_probe(x, labels, seeds=(0,), cs=FAST_CS)
    np.testing.assert_array_equal(result.folds, plan.folds)  # the same deal of subjects
    # fold 0 was trained without the feature; other folds cannot use it on their test subjects
    np.testing.assert_allclose(result.fold_auc, 0.5)


@pytest.mark.parametrize("max_components", [None, 2])
def test_scaler_pca_and_inner_choice_see_the_training_fold_only(monkeypatch, max_components):
    created = {"logistic": [], "ridge": []}
    for kind in created:
        factory = getattr(cross_validated_probe, f"{kind}_probe_model")

        def recording(*args, _factory=factory, _kind=kind, **kwargs):
            model = _factory(*args, **kwargs)
            created[_kind].append(model)
            return model

        monkeypatch.setattr(cross_validated_probe, f"{kind}_probe_model", recording)
    severity, x = _severity_data(40, d=5)
    x = x + 3.0  # a mean that a leaked scaler would get wrong
    binary = classification_probe(
        x, severity > np.median(severity), seeds=(0,), cs=FAST_CS, max_components=max_components
    )
    continuous = regression_probe(x, severity, seeds=(0,), max_components=max_components)
    for kind, result in (("logistic", binary), ("ridge", continuous)):
        assert len(created[kind]) == 5
        for model, fold in zip(created[kind], range(5), strict=True):
            train = result.folds[0] != fold
            pipeline = model.best_estimator_ if kind == "logistic" else model
            scaler = pipeline.named_steps["scale"]
            np.testing.assert_allclose(scaler.mean_, x[train].mean(axis=0))
            np.testing.assert_allclose(scaler.scale_, x[train].std(axis=0))
            if max_components is not None:
                assert pipeline.named_steps["pca"].n_samples_ == train.sum()
            if kind == "logistic":  # the inner search split the training fold only
                assert model.n_splits_ == 3 and model.cv_results_["params"]
