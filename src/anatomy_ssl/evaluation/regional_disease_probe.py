"""The region-level probe of DrasCLR's evaluation: per-location embeddings pooled per anatomical
region (e.g. a lung lobe) predict that region's disease (e.g. its emphysema percentage) and the
patient's disease subtype, cross-validated with every region of a subject in the same fold."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import balanced_accuracy_score, r2_score
from threadpoolctl import threadpool_limits

from anatomy_ssl.evaluation.cross_validated_probe import logistic_probe_model, ridge_probe_model
from anatomy_ssl.evaluation.subject_folds import DEFAULT_SEEDS, plan_folds


@dataclass(frozen=True)
class RegionRows:
    """One row per (subject, region) with at least one location centred in the region.

    Attributes:
        embeddings: `(M, D)` mean location embedding of each (subject, region).
        subjects: `(M,)` int index of the row's subject.
        regions: `(M,)` int label value of the row's region.
        targets: `(M,)` float the region's clinical value (NaN where the table has none).
        locations: `(M,)` int locations pooled into the row.
    """

    embeddings: np.ndarray
    subjects: np.ndarray
    regions: np.ndarray
    targets: np.ndarray
    locations: np.ndarray


def region_rows(
    location_embeddings: Sequence[np.ndarray],
    location_labels: Sequence[np.ndarray],
    clinical: Sequence[Mapping[str, str]],
    regions: Mapping[int, str],
) -> RegionRows:
    """Pool each subject's location embeddings per region.

    Args:
        location_embeddings: `(N,)` per subject `(L, D)` (NaN rows at invalid locations).
        location_labels: `(N,)` per subject `(L,)` int label at each location's centre (-1:
            none).
        clinical: `(N,)` per subject its clinical row (column -> text).
        regions: label value -> the clinical column holding that region's target.

    Raises:
        ValueError: mismatched lengths, or no location in any region.
    """
    if not len(location_embeddings) == len(location_labels) == len(clinical):
        raise ValueError(
            f"{len(location_embeddings)} embeddings, {len(location_labels)} label rows and "
            f"{len(clinical)} clinical rows: one of each per subject"
        )
    rows, subjects, labels, targets, counts = [], [], [], [], []
    for subject, (embeddings, centre_labels, row) in enumerate(
        zip(location_embeddings, location_labels, clinical, strict=True)
    ):
        for label, column in regions.items():
            inside = np.asarray(centre_labels) == int(label)  # (L,)
            if not inside.any():
                continue
            rows.append(np.asarray(embeddings)[inside].mean(axis=0))
            subjects.append(subject)
            labels.append(int(label))
            text = row.get(column, "")
            targets.append(float(text) if text not in ("", None) else np.nan)
            counts.append(int(inside.sum()))
    if not rows:
        raise ValueError(f"no location is centred in any of the regions {sorted(regions)}")
    return RegionRows(
        np.stack(rows).astype(np.float64),
        np.asarray(subjects),
        np.asarray(labels),
        np.asarray(targets, dtype=np.float64),
        np.asarray(counts),
    )


@dataclass(frozen=True)
class RegionalProbeResult:
    """Cross-validated region-level probes, averaged over repeats.

    Attributes:
        r2, spearman: `(R,)` per repeat, of the regional target over all out-of-fold rows.
        subtype_balanced_accuracy: `(R,)` per repeat, of the subject's subtype predicted from
            each region's row (None without a subtype column).
        rows, subjects: (subject, region) rows and subjects probed.
        notes: what was left out and why.
    """

    r2: np.ndarray
    spearman: np.ndarray
    subtype_balanced_accuracy: np.ndarray | None
    rows: int
    subjects: int
    notes: tuple[str, ...] = ()

    def metrics(self) -> dict[str, float]:
        """`regional_r2`, `regional_spearman`, `regional_subtype_balanced_accuracy`,
        `regional_rows`."""
        metrics = {
            "regional_r2": float(np.mean(self.r2)),
            "regional_spearman": float(np.mean(self.spearman)),
            "regional_rows": float(self.rows),
        }
        if self.subtype_balanced_accuracy is not None:
            metrics["regional_subtype_balanced_accuracy"] = float(
                np.mean(self.subtype_balanced_accuracy)
            )
        return metrics


def regional_probe(
    rows: RegionRows,
    subtypes: Sequence[str] | None = None,
    *,
    n_folds: int = 5,
    seeds: Sequence[int] = DEFAULT_SEEDS,
) -> RegionalProbeResult:
    """Ridge probe of each region's target and logistic probe of the subject's subtype, from
    the (subject, region) rows; folds deal SUBJECTS (every region of a subject is held out
    together, so a subject's other regions never leak into its test rows), stratified by
    subtype when given.

    Args:
        rows: from `region_rows`; rows without a target are left out (noted).
        subtypes: `(N,)` each subject's subtype, or None.
        n_folds: K asked for.
        seeds: one repeat per seed.

    Raises:
        ValueError: fewer than two subjects with targets, or a constant target.
    """
    notes = []
    known = np.isfinite(rows.targets)
    if not known.all():
        notes.append(f"{int((~known).sum())} (subject, region) rows without a target left out")
    x, y = rows.embeddings[known], rows.targets[known]
    subject = rows.subjects[known]
    if np.ptp(y) == 0:
        raise ValueError(f"the regional target is constant ({y[0]:g}); nothing to predict")
    present = np.unique(subject)  # (N',) subjects with rows
    codes = None
    if subtypes is not None:
        names = np.asarray(subtypes)[present]
        _, codes = np.unique(names, return_inverse=True)  # (N',)
    plan = plan_folds(len(present), n_folds=n_folds, seeds=seeds, strata=codes)
    notes.extend(plan.notes)
    position = np.searchsorted(present, subject)  # (M,) row -> index into present
    predictions = np.zeros((len(plan.seeds), len(y)))
    classes = np.zeros((len(plan.seeds), len(y)), dtype=np.int64)
    row_codes = None if codes is None else codes[position]
    with threadpool_limits(limits=1):
        for repeat, _fold, train_subjects, test_subjects in plan.splits():
            train = np.isin(position, train_subjects)
            test = np.isin(position, test_subjects)
            ridge = ridge_probe_model(n_train=int(train.sum()), n_features=x.shape[1])
            ridge.fit(x[train], y[train])
            predictions[repeat, test] = ridge.predict(x[test])
            if row_codes is not None:
                logistic = logistic_probe_model(
                    row_codes[train], seed=plan.seeds[repeat], n_features=x.shape[1]
                )
                with warnings.catch_warnings():  # weak penalties on separable folds
                    warnings.filterwarnings("ignore", category=ConvergenceWarning)
                    logistic.fit(x[train], row_codes[train])
                classes[repeat, test] = logistic.predict(x[test])
    return RegionalProbeResult(
        r2=np.array([r2_score(y, p) for p in predictions]),
        spearman=np.array([stats.spearmanr(y, p).statistic for p in predictions]),
        subtype_balanced_accuracy=(
            None
            if row_codes is None
            else np.array([balanced_accuracy_score(row_codes, c) for c in classes])
        ),
        rows=len(y),
        subjects=len(present),
        notes=tuple(notes),
    )
