"""Cross-validated linear probes on pooled embeddings: logistic (classes) and ridge (continuous).

One row per subject. Subjects are dealt to K folds, stratified (by class, or by blocks of similar
target values), repeated over fixed seeds. Everything learned — standardisation, the optional PCA,
the regularisation strength (an inner cross-validation on the training fold only) — is fitted
inside each training fold, so a held-out subject never influences its own prediction.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, RidgeCV
from sklearn.metrics import balanced_accuracy_score, r2_score, roc_auc_score
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from anatomy_ssl.evaluation.subject_folds import (
    DEFAULT_SEEDS,
    check_embeddings,
    class_codes,
    plan_folds,
)

DEFAULT_CS = (1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0, 1000.0)  # inverse L2 strengths tried
DEFAULT_ALPHAS = tuple(float(a) for a in np.logspace(-3, 4, 15))  # ridge strengths tried
FALLBACK_C = 1.0  # when a training fold is too small for an inner choice


@dataclass(frozen=True)
class ClassificationProbeResult:
    """Out-of-fold predictions and scores of a cross-validated logistic probe.

    Attributes:
        name: the target's name, the prefix of the metric names.
        classes: `(C,)` class names; `labels` index into them.
        labels: `(N,)` int true class of each subject.
        probabilities: `(R, N, C)` out-of-fold class probabilities per repeat.
        folds: `(R, N)` held-out fold of each subject per repeat.
        seeds: `(R,)` seed of each repeat.
        balanced_accuracy: `(R,)` over all out-of-fold predictions of each repeat.
        fold_auc: `(R, K)` ROC AUC of each held-out fold (macro one-vs-rest for C > 2); NaN where
            a class lacks positives or negatives in that fold (see `notes`).
        chosen_c: `(R, K)` inverse L2 strength picked on each training fold.
        notes: K reductions, fallbacks, undefined AUCs.
    """

    name: str
    classes: tuple[str, ...]
    labels: np.ndarray
    probabilities: np.ndarray
    folds: np.ndarray
    seeds: tuple[int, ...]
    balanced_accuracy: np.ndarray
    fold_auc: np.ndarray
    chosen_c: np.ndarray
    notes: tuple[str, ...]

    @property
    def predictions(self) -> np.ndarray:
        """`(R, N)` int out-of-fold predicted class."""
        return self.probabilities.argmax(axis=-1)

    @property
    def auc(self) -> np.ndarray:
        """`(R,)` mean held-out-fold AUC of each repeat (NaN if any fold is undefined)."""
        return self.fold_auc.mean(axis=1)

    def metrics(self) -> dict[str, float]:
        """`{name}_auc` and `{name}_balanced_accuracy`, averaged over repeats."""
        return {
            f"{self.name}_auc": float(self.auc.mean()),
            f"{self.name}_balanced_accuracy": float(self.balanced_accuracy.mean()),
        }


@dataclass(frozen=True)
class RegressionProbeResult:
    """Out-of-fold predictions and scores of a cross-validated ridge probe.

    Attributes:
        name: the target's name, the prefix of the metric names.
        targets: `(N,)` true values.
        predictions: `(R, N)` out-of-fold predictions per repeat.
        folds: `(R, N)` held-out fold of each subject per repeat.
        seeds: `(R,)` seed of each repeat.
        r2: `(R,)` coefficient of determination over all out-of-fold predictions of a repeat.
        spearman: `(R,)` Spearman rank correlation, same predictions (NaN if they are constant).
        chosen_alpha: `(R, K)` ridge strength picked on each training fold.
        notes: K reductions, undefined correlations.
    """

    name: str
    targets: np.ndarray
    predictions: np.ndarray
    folds: np.ndarray
    seeds: tuple[int, ...]
    r2: np.ndarray
    spearman: np.ndarray
    chosen_alpha: np.ndarray
    notes: tuple[str, ...]

    def metrics(self) -> dict[str, float]:
        """`{name}_r2` and `{name}_spearman`, averaged over repeats."""
        return {
            f"{self.name}_r2": float(self.r2.mean()),
            f"{self.name}_spearman": float(self.spearman.mean()),
        }


def logistic_probe_model(
    train_labels: np.ndarray,
    *,
    seed: int,
    n_features: int,
    max_components: int | None = None,
    cs: Sequence[float] = DEFAULT_CS,
    inner_folds: int = 3,
) -> GridSearchCV | Pipeline:
    """An unfitted logistic probe for one training fold.

    Standardise -> (PCA) -> L2 logistic regression with balanced class weights (a small class
    counts as much as a large one, as in the balanced accuracy). The whole pipeline is refitted
    in each split of a stratified inner cross-validation of the training fold that picks C by
    log loss; C is fixed at `FALLBACK_C` when a class has fewer than two training subjects.

    Args:
        train_labels: `(n,)` int class codes of the training fold.
        seed: shuffles the inner folds.
        n_features: D, to cap the PCA.
        max_components: PCA components (None: no PCA).
        cs: inverse regularisation strengths to try.
        inner_folds: inner folds asked for (reduced to the smallest class count).
    """
    counts = np.bincount(train_labels)
    inner = min(inner_folds, int(counts[counts > 0].min()))
    n_train = len(train_labels)
    # an inner training split is smaller than the fold; stratification can shift it by < C rows
    smallest_fit = n_train - 1 if inner < 2 else n_train * (inner - 1) // inner - len(counts)
    classifier = LogisticRegression(C=FALLBACK_C, class_weight="balanced", max_iter=2000)
    pipeline = _probe_pipeline(classifier, max_components, n_features, smallest_fit)
    if inner < 2:
        return pipeline
    return GridSearchCV(
        pipeline,
        {"probe__C": list(cs)},
        cv=StratifiedKFold(inner, shuffle=True, random_state=seed),
        scoring="neg_log_loss",
    )


def ridge_probe_model(
    *,
    n_train: int,
    n_features: int,
    max_components: int | None = None,
    alphas: Sequence[float] = DEFAULT_ALPHAS,
) -> Pipeline:
    """An unfitted ridge probe for one training fold: standardise -> (PCA) -> ridge, with the
    strength chosen by efficient leave-one-out on the training fold (RidgeCV).

    Args:
        n_train: training subjects, to cap the PCA.
        n_features: D, to cap the PCA.
        max_components: PCA components (None: no PCA).
        alphas: ridge strengths to try.
    """
    return _probe_pipeline(RidgeCV(alphas=tuple(alphas)), max_components, n_features, n_train - 1)


def classification_probe(
    embeddings: np.ndarray,
    labels: np.ndarray,
    *,
    name: str = "target",
    n_folds: int = 5,
    seeds: Sequence[int] = DEFAULT_SEEDS,
    max_components: int | None = None,
    cs: Sequence[float] = DEFAULT_CS,
    inner_folds: int = 3,
) -> ClassificationProbeResult:
    """Cross-validated logistic probe (binary or multi-class), stratified by class.

    AUC is computed per held-out fold (the probabilities of different fold models are not
    pooled) and averaged; balanced accuracy over all out-of-fold predictions of a repeat.

    Args:
        embeddings: `(N, D)` one row per subject.
        labels: `(N,)` class of each subject (any hashable values; sorted to class codes).
        name: metric name prefix.
        n_folds: K asked for; reduced to the smallest class count (with a note).
        seeds: one repeat per seed.
        max_components: PCA components inside each training fold (None: no PCA).
        cs: inverse L2 strengths for the inner choice.
        inner_folds: inner folds on each training fold.

    Raises:
        ValueError: bad embeddings, labels of the wrong length, a single class, or a class too
            small for two folds.
    """
    x = check_embeddings(embeddings)
    classes, codes, counts = class_codes(labels, len(x), name)
    smallest = int(counts.argmin())
    plan = plan_folds(
        len(x),
        n_folds=n_folds,
        seeds=seeds,
        strata=codes,
        fold_limits={
            f"class {classes[smallest]!r} has {counts[smallest]} subject(s)": int(counts[smallest])
        },
    )
    probabilities = np.zeros((len(plan.seeds), len(x), len(classes)))
    chosen_c = np.full((len(plan.seeds), plan.n_folds), FALLBACK_C)
    fold_auc = np.full((len(plan.seeds), plan.n_folds), np.nan)
    auc_notes: set[str] = set()
    fallback_folds = 0
    with threadpool_limits(limits=1):  # tiny matrices: BLAS threads only contend (~10x slower)
        for repeat, fold, train, test in plan.splits():
            model = logistic_probe_model(
                codes[train],
                seed=plan.seeds[repeat],
                n_features=x.shape[1],
                max_components=max_components,
                cs=cs,
                inner_folds=inner_folds,
            )
            with warnings.catch_warnings():  # weak penalties on separable folds: slow to converge
                warnings.filterwarnings("ignore", category=ConvergenceWarning)
                model.fit(x[train], codes[train])
            probabilities[repeat, test] = model.predict_proba(x[test])  # (n_test, C)
            if isinstance(model, GridSearchCV):
                chosen_c[repeat, fold] = model.best_params_["probe__C"]
            else:
                fallback_folds += 1
            fold_auc[repeat, fold], reason = held_out_auc(
                codes[test], probabilities[repeat, test], classes
            )
            auc_notes.update([reason] if reason else [])
    notes = list(plan.notes)
    if fallback_folds:
        notes.append(
            f"C fixed at {FALLBACK_C} in {fallback_folds} training fold(s): a class had fewer "
            "than 2 training subjects, too few for an inner choice"
        )
    notes.extend(sorted(auc_notes))
    balanced = np.array([balanced_accuracy_score(codes, p.argmax(axis=1)) for p in probabilities])
    return ClassificationProbeResult(
        name=name,
        classes=classes,
        labels=codes,
        probabilities=probabilities,
        folds=plan.folds,
        seeds=plan.seeds,
        balanced_accuracy=balanced,
        fold_auc=fold_auc,
        chosen_c=chosen_c,
        notes=tuple(notes),
    )


def regression_probe(
    embeddings: np.ndarray,
    targets: np.ndarray,
    *,
    name: str = "target",
    n_folds: int = 5,
    seeds: Sequence[int] = DEFAULT_SEEDS,
    max_components: int | None = None,
    alphas: Sequence[float] = DEFAULT_ALPHAS,
) -> RegressionProbeResult:
    """Cross-validated ridge probe of a continuous target, stratified by value blocks.

    R^2 and Spearman's rho are computed over all out-of-fold predictions of a repeat (they are
    in target units, comparable across fold models), then averaged over repeats.

    Args:
        embeddings: `(N, D)` one row per subject.
        targets: `(N,)` finite, not constant.
        name: metric name prefix.
        n_folds: K asked for.
        seeds: one repeat per seed.
        max_components: PCA components inside each training fold (None: no PCA).
        alphas: ridge strengths for the inner choice.

    Raises:
        ValueError: bad embeddings, targets of the wrong length, non-finite or constant.
    """
    x = check_embeddings(embeddings)
    y = np.asarray(targets, dtype=np.float64)
    if y.shape != (len(x),):
        raise ValueError(f"{name}: {y.shape} targets for {len(x)} embedding rows")
    if not np.isfinite(y).all():
        raise ValueError(f"{name}: targets contain NaN or Inf")
    if np.ptp(y) == 0:
        raise ValueError(f"{name}: the target is constant ({y[0]:g}); nothing to predict")
    plan = plan_folds(len(x), n_folds=n_folds, seeds=seeds, continuous=y)
    predictions = np.zeros((len(plan.seeds), len(x)))
    chosen_alpha = np.zeros((len(plan.seeds), plan.n_folds))
    with threadpool_limits(limits=1):  # tiny matrices: BLAS threads only contend (~10x slower)
        for repeat, fold, train, test in plan.splits():
            model = ridge_probe_model(
                n_train=len(train),
                n_features=x.shape[1],
                max_components=max_components,
                alphas=alphas,
            )
            model.fit(x[train], y[train])
            predictions[repeat, test] = model.predict(x[test])
            chosen_alpha[repeat, fold] = model.named_steps["probe"].alpha_
    notes = list(plan.notes)
    constant = np.ptp(predictions, axis=1) == 0
    if constant.any():
        notes.append(f"Spearman undefined in {int(constant.sum())} repeat(s): constant predictions")
    spearman = np.array(
        [
            np.nan if flat else float(stats.spearmanr(y, p).statistic)
            for p, flat in zip(predictions, constant, strict=True)
        ]
    )
    return RegressionProbeResult(
        name=name,
        targets=y,
        predictions=predictions,
        folds=plan.folds,
        seeds=plan.seeds,
        r2=np.array([r2_score(y, p) for p in predictions]),
        spearman=spearman,
        chosen_alpha=chosen_alpha,
        notes=tuple(notes),
    )


def _probe_pipeline(
    probe: Any, max_components: int | None, n_features: int, smallest_fit: int
) -> Pipeline:
    """standardise -> (PCA, at most as many components as the smallest fit allows) -> probe."""
    steps: list[tuple[str, Any]] = [("scale", StandardScaler())]
    if max_components is not None:
        steps.append(
            ("pca", PCA(n_components=max(1, min(max_components, n_features, smallest_fit))))
        )
    steps.append(("probe", probe))
    return Pipeline(steps)


def held_out_auc(
    labels: np.ndarray, probabilities: np.ndarray, classes: Sequence[str]
) -> tuple[float, str | None]:
    """ROC AUC of one held-out fold.

    Binary: the AUC of class 1's probability. Multi-class: the macro mean of the one-vs-rest
    AUCs, defined only when every class has both positives and negatives in the fold.

    Args:
        labels: `(n,)` int class codes.
        probabilities: `(n, C)` predicted class probabilities.
        classes: `(C,)` class names, for the reason.

    Returns:
        The AUC and None, or NaN and the reason it is undefined.
    """
    scored = [1] if len(classes) == 2 else range(len(classes))
    aucs = []
    for code in scored:
        positive = labels == code
        if positive.all() or not positive.any():
            return float("nan"), (
                f"AUC undefined: class {classes[code]!r} lacks positives or negatives in a "
                "held-out fold"
            )
        aucs.append(roc_auc_score(positive, probabilities[:, code]))
    return float(np.mean(aucs)), None
