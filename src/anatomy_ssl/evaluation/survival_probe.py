"""Cross-validated Cox proportional-hazards probe of survival on pooled embeddings.

Cox (1972) "Regression models and life-tables" (J. R. Stat. Soc. B 34:187-220) models the hazard
as h(t | x) = h0(t) exp(beta . x); a model is scored by Harrell's concordance index (Harrell et
al. 1982, "Evaluating the yield of medical tests", JAMA 247:2543-2546) on held-out subjects.

Embeddings are wide and cohorts small, so each training fold is standardised and fitted by a
ridge-penalised Cox model (lifelines' `CoxPHFitter`); for speed the standardised embeddings are
first rotated onto their top `max_components` principal components (not whitened, so the ridge
penalty is the same as on the standardised embeddings, restricted to their main subspace).
Fold models' risk scores are on different scales, so the C-index is computed per held-out fold
and averaged.

An earlier design kept only ~one whitened component per 10 training events (at most 4): blind
to any signal outside the top few variance directions. On simulated phantom cohorts with the
true risk score in one of 32 columns (`scripts/survival_probe_power.py`, 20 cohorts), it scored
0.535 / 0.552 at 100 / 200 subjects against 0.591 / 0.605 for this design (noise only:
0.501 / 0.493 and 0.521 / 0.498).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from lifelines import CoxPHFitter
from lifelines.exceptions import ConvergenceError, ConvergenceWarning
from lifelines.utils import concordance_index
from sklearn.decomposition import PCA
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from anatomy_ssl.evaluation.subject_folds import (
    DEFAULT_SEEDS,
    check_embeddings,
    finite_vector,
    plan_folds,
)

NULL_VARIANCE = 1e-8  # PCA components below this (on standardised features) carry no signal
PENALIZER = 1.0  # L2 penalty of the Cox fit (see the module docstring)


@dataclass(frozen=True)
class SurvivalProbeResult:
    """Out-of-fold risk scores and concordance of a cross-validated Cox probe.

    Attributes:
        name: metric name prefix.
        time: `(N,)` time to event or censoring.
        event: `(N,)` bool, True where the event was observed.
        risk: `(R, N)` out-of-fold log partial hazard (higher = shorter expected survival);
            comparable only within one held-out fold.
        folds: `(R, N)` held-out fold of each subject per repeat.
        seeds: `(R,)` seed of each repeat.
        fold_c_index: `(R, K)` Harrell's C of each held-out fold (NaN: no comparable pair there).
        fold_c_index_true_risk: `(R, K)` the same for the true risk score on the same folds (the
            ceiling), or None without one.
        n_components: `(R, K)` PCA components the Cox model of each training fold used.
        notes: K reductions, folds without comparable pairs, failed fits.
    """

    name: str
    time: np.ndarray
    event: np.ndarray
    risk: np.ndarray
    folds: np.ndarray
    seeds: tuple[int, ...]
    fold_c_index: np.ndarray
    fold_c_index_true_risk: np.ndarray | None
    n_components: np.ndarray
    notes: tuple[str, ...]

    @property
    def c_index(self) -> np.ndarray:
        """`(R,)` mean C-index over the held-out folds that have comparable pairs."""
        return mean_over_folds(self.fold_c_index)

    @property
    def c_index_true_risk(self) -> np.ndarray | None:
        """`(R,)` the same for the true risk score, or None."""
        if self.fold_c_index_true_risk is None:
            return None
        return mean_over_folds(self.fold_c_index_true_risk)

    def metrics(self) -> dict[str, float]:
        """`{name}_c_index` (and `{name}_c_index_true_risk`), averaged over repeats."""
        metrics = {f"{self.name}_c_index": float(self.c_index.mean())}
        ceiling = self.c_index_true_risk
        if ceiling is not None:
            metrics[f"{self.name}_c_index_true_risk"] = float(ceiling.mean())
        return metrics


def harrell_c_index(time: np.ndarray, event: np.ndarray, risk: np.ndarray) -> float:
    """Harrell's concordance index (Harrell et al. 1982).

    Over the comparable pairs — subject i had the event and j was still at risk later
    (time_i < time_j) — the fraction where i has the higher risk; tied risks count one half.
    Ties in time follow lifelines' `concordance_index`.

    Args:
        time: `(n,)` time to event or censoring.
        event: `(n,)` bool, True where the event was observed.
        risk: `(n,)` predicted risk (higher = earlier event).

    Returns:
        C in [0, 1] (0.5 = chance), or NaN when there is no comparable pair.
    """
    try:
        # lifelines scores predicted survival (higher = later event), hence the minus
        return float(concordance_index(time, -np.asarray(risk, dtype=np.float64), event))
    except ZeroDivisionError:  # lifelines: "No admissable pairs in the dataset."
        return float("nan")


def cox_feature_model(n_components: int) -> Pipeline:
    """An unfitted standardise -> PCA pipeline for one training fold (`survival_probe` keeps
    only the components with variance)."""
    return Pipeline([("scale", StandardScaler()), ("pca", PCA(n_components=n_components))])


def survival_probe(
    embeddings: np.ndarray,
    time: np.ndarray,
    event: np.ndarray,
    *,
    true_risk: np.ndarray | None = None,
    name: str = "survival",
    n_folds: int = 5,
    seeds: Sequence[int] = DEFAULT_SEEDS,
    max_components: int = 32,
    penalizer: float = PENALIZER,
) -> SurvivalProbeResult:
    """Cross-validated ridge Cox model on standardised embeddings, scored by held-out
    Harrell's C.

    Folds are stratified by event status, with K reduced (with a note) so that each held-out
    fold has an event.

    Args:
        embeddings: `(N, D)` one row per subject.
        time: `(N,)` finite time to event or censoring, >= 0.
        event: `(N,)` 1 / True = event observed, 0 / False = censored.
        true_risk: `(N,)` the true linear predictor, scored on the same folds as a ceiling.
        name: metric name prefix.
        n_folds: K asked for.
        seeds: one repeat per seed.
        max_components: most principal components a Cox model sees (at most D and the
            training subjects - 1).
        penalizer: L2 penalty of the Cox fit (lifelines' `penalizer`; 1.0 separated the true
            risk from noise best among 0.01-100 in the simulation above).

    Raises:
        ValueError: bad embeddings, time / event / true risk of the wrong length or not finite,
            negative times, events other than 0/1, or fewer than 2 events.
    """
    x = check_embeddings(embeddings)
    n = len(x)
    t, e = check_survival(time, event, n, name=name)
    ceiling = None if true_risk is None else finite_vector(true_risk, n, "true_risk")
    n_events = int(e.sum())
    plan = plan_folds(
        n,
        n_folds=n_folds,
        seeds=seeds,
        strata=e.astype(np.int64),
        fold_limits={f"{n_events} events (one per held-out fold)": n_events},
    )
    shape = (len(plan.seeds), plan.n_folds)
    risk = np.zeros((len(plan.seeds), n))
    fold_c = np.full(shape, np.nan)
    fold_ceiling = None if ceiling is None else np.full(shape, np.nan)
    used = np.zeros(shape, dtype=np.int64)
    failed = 0
    with threadpool_limits(limits=1):  # tiny matrices: BLAS threads only contend (~10x slower)
        for repeat, fold, train, test in plan.splits():
            k = min(max_components, x.shape[1], len(train) - 1)
            scores, used[repeat, fold] = _cox_fold(
                x[train], t[train], e[train], x[test], k, penalizer
            )
            if scores is None:
                failed += 1
                scores = np.zeros(len(test))
            risk[repeat, test] = scores
            fold_c[repeat, fold] = harrell_c_index(t[test], e[test], scores)
            if fold_ceiling is not None and ceiling is not None:
                fold_ceiling[repeat, fold] = harrell_c_index(t[test], e[test], ceiling[test])
    notes = list(plan.notes)
    if failed:
        notes.append(f"Cox fit did not converge in {failed} fold(s); their risk is constant")
    if (used == 0).any():
        notes.append(f"embeddings had no variance in {int((used == 0).sum())} training fold(s)")
    if np.isnan(fold_c).any():
        notes.append(
            f"{int(np.isnan(fold_c).sum())} held-out fold(s) without a comparable pair were "
            "left out of the mean C-index"
        )
    return SurvivalProbeResult(
        name=name,
        time=t,
        event=e,
        risk=risk,
        folds=plan.folds,
        seeds=plan.seeds,
        fold_c_index=fold_c,
        fold_c_index_true_risk=fold_ceiling,
        n_components=used,
        notes=tuple(notes),
    )


def _cox_fold(
    x_train: np.ndarray,
    time: np.ndarray,
    event: np.ndarray,
    x_test: np.ndarray,
    n_components: int,
    penalizer: float,
) -> tuple[np.ndarray | None, int]:
    """Fit standardise -> PCA -> ridge Cox on one training fold.

    Args:
        x_train: `(n, D)`; time, event: `(n,)`; x_test: `(m, D)`.

    Returns:
        `(m,)` held-out log partial hazard (up to a constant; zeros when the training fold has
        no variance; None when the fit failed) and the number of components used.
    """
    if not np.ptp(x_train, axis=0).any():  # constant embeddings: nothing to fit
        return np.zeros(len(x_test)), 0
    features = cox_feature_model(n_components).fit(x_train)
    variance = features.named_steps["pca"].explained_variance_  # (k,)
    keep = variance > NULL_VARIANCE
    if not keep.any():
        return np.zeros(len(x_test)), 0
    z_train = features.transform(x_train)[:, keep]  # (n, k')
    z_test = features.transform(x_test)[:, keep]  # (m, k')
    covariates = [f"pc{i}" for i in range(z_train.shape[1])]
    table = pd.DataFrame(z_train, columns=covariates).assign(time=time, event=event)
    model = CoxPHFitter(penalizer=penalizer)
    try:
        with warnings.catch_warnings():  # noise-only components can leave a flat likelihood
            warnings.filterwarnings("ignore", category=ConvergenceWarning)
            model.fit(table, duration_col="time", event_col="event")
    except ConvergenceError:
        return None, int(keep.sum())
    beta = model.params_.to_numpy()  # (k',)
    return z_test @ beta, int(keep.sum())


def check_survival(
    time: np.ndarray, event: np.ndarray, n: int, *, name: str = "survival"
) -> tuple[np.ndarray, np.ndarray]:
    """Validate survival targets: `(n,)` float64 times >= 0 and `(n,)` bool events, with at
    least two events (a Cox model needs them).

    Raises:
        ValueError: wrong length, not finite, negative times, events other than 0/1, or fewer
            than 2 events.
    """
    t = finite_vector(time, n, "time")
    if (t < 0).any():
        raise ValueError("time: negative values")
    e_raw = finite_vector(event, n, "event")
    if not np.isin(e_raw, (0.0, 1.0)).all():
        raise ValueError("event: values must be 0 (censored) or 1 (event)")
    e = e_raw.astype(bool)
    if e.sum() < 2:
        raise ValueError(f"{name}: {int(e.sum())} event(s); a Cox model needs at least 2")
    return t, e


def mean_over_folds(fold_values: np.ndarray) -> np.ndarray:
    """`(R,)` mean of `(R, K)` over the defined (non-NaN) folds; NaN where none is."""
    defined = ~np.isnan(fold_values)
    total = np.where(defined, fold_values, 0.0).sum(axis=1)
    count = defined.sum(axis=1)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)
