"""Protocol 4 of the benchmark: patient-level prediction from pooled embeddings.

One pooled embedding per subject (e.g. `anatomy_ssl.embedding.embed_volume(...).embedding`) and
the clinical table -> cross-validated probes: severity (ridge regression, and a logistic probe of
"above the threshold"), subtype (multi-class logistic) and survival (Cox, Harrell's C-index,
with the true risk score's C-index as the ceiling when the table has one).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from anatomy_ssl.evaluation.clinical_targets import (
    TASKS,
    ClinicalColumns,
    ClinicalTable,
    binarize,
    clinical_targets,
)
from anatomy_ssl.evaluation.cross_validated_probe import (
    ClassificationProbeResult,
    RegressionProbeResult,
    classification_probe,
    regression_probe,
)
from anatomy_ssl.evaluation.subject_folds import DEFAULT_SEEDS, check_embeddings
from anatomy_ssl.evaluation.survival_probe import SurvivalProbeResult, survival_probe


@dataclass(frozen=True)
class PatientPredictionResult:
    """Every probe of protocol 4 on one embedding table; None for a task not run.

    Attributes:
        subject_ids: `(N,)` subject of each row (the row order of every probe's arrays).
        severity_regression: ridge probe of the continuous severity.
        severity_classification: logistic probe of severity > `severity_threshold`.
        severity_threshold: the cut (the median unless one was given).
        subtype: multi-class logistic probe of the subtype.
        survival: Cox probe of survival.
    """

    subject_ids: tuple[str, ...]
    severity_regression: RegressionProbeResult | None = None
    severity_classification: ClassificationProbeResult | None = None
    severity_threshold: float | None = None
    subtype: ClassificationProbeResult | None = None
    survival: SurvivalProbeResult | None = None

    def metrics(self) -> dict[str, float]:
        """Flat metric names: `severity_r2`, `severity_spearman`, `severity_auc`,
        `severity_balanced_accuracy`, `subtype_auc`, `subtype_balanced_accuracy`,
        `survival_c_index`, `survival_c_index_true_risk` (those of the tasks run; NaN where a
        metric is undefined, see `notes`)."""
        metrics: dict[str, float] = {}
        for probe in self._probes():
            metrics.update(probe.metrics())
        return metrics

    @property
    def notes(self) -> tuple[str, ...]:
        """Every probe's notes, each prefixed with its probe."""
        return tuple(
            f"{label}: {note}" for label, probe in self._labelled() for note in probe.notes
        )

    def _probes(
        self,
    ) -> list[RegressionProbeResult | ClassificationProbeResult | SurvivalProbeResult]:
        return [probe for _, probe in self._labelled()]

    def _labelled(
        self,
    ) -> list[tuple[str, RegressionProbeResult | ClassificationProbeResult | SurvivalProbeResult]]:
        candidates = [
            ("severity regression", self.severity_regression),
            ("severity classification", self.severity_classification),
            ("subtype", self.subtype),
            ("survival", self.survival),
        ]
        return [(label, probe) for label, probe in candidates if probe is not None]


def evaluate_patient_prediction(
    embeddings: np.ndarray,
    subject_ids: Sequence[str],
    clinical: ClinicalTable | str | Path,
    *,
    tasks: Collection[str] = TASKS,
    columns: ClinicalColumns = ClinicalColumns(),
    severity_threshold: float | None = None,
    n_folds: int = 5,
    seeds: Sequence[int] = DEFAULT_SEEDS,
    max_components: int | None = None,
    survival_max_components: int = 32,
    cox_penalizer: float = 1.0,
) -> PatientPredictionResult:
    """Run the patient-level probes on one table of pooled embeddings.

    Every probe deals the subjects to its own stratified folds (by severity value, class or
    event status), repeated over the same seeds; see `classification_probe`,
    `regression_probe` and `survival_probe`.

    Args:
        embeddings: `(N, D)` one pooled embedding per subject, finite.
        subject_ids: `(N,)` subject of each row, each once.
        clinical: `subject -> column -> value`, or the path of `clinical.csv`.
        tasks: any of "severity", "subtype", "survival".
        columns: the clinical column names.
        severity_threshold: cut of the binary severity label (None: the median).
        n_folds: K asked for (reduced with a note when classes or events are few).
        seeds: one repeat of every probe per seed.
        max_components: PCA components before the logistic / ridge probes (None: no PCA).
        survival_max_components: most PCA components of the Cox model.
        cox_penalizer: L2 penalty of the Cox fit.

    Returns:
        The combined result; `.metrics()` gives the flat metric names.

    Raises:
        ValueError: bad embeddings (NaN / Inf rows are named by subject), duplicated or missing
            subjects, missing columns, non-numeric values, or too few subjects for the folds.
    """
    ids = tuple(str(subject) for subject in subject_ids)
    x = check_embeddings(embeddings, row_names=ids)
    targets = clinical_targets(ids, clinical, tasks=tasks, columns=columns)
    regression = classification = subtype = None
    threshold = None
    survival = None
    if targets.severity is not None:
        regression = regression_probe(
            x,
            targets.severity,
            name="severity",
            n_folds=n_folds,
            seeds=seeds,
            max_components=max_components,
        )
        above, threshold = binarize(targets.severity, severity_threshold)
        classification = classification_probe(
            x, above, name="severity", n_folds=n_folds, seeds=seeds, max_components=max_components
        )
    if targets.subtype is not None:
        subtype = classification_probe(
            x,
            targets.subtype,
            name="subtype",
            n_folds=n_folds,
            seeds=seeds,
            max_components=max_components,
        )
    if targets.survival_time is not None and targets.event is not None:
        survival = survival_probe(
            x,
            targets.survival_time,
            targets.event,
            true_risk=targets.risk_score,
            name="survival",
            n_folds=n_folds,
            seeds=seeds,
            max_components=survival_max_components,
            penalizer=cox_penalizer,
        )
    return PatientPredictionResult(
        subject_ids=ids,
        severity_regression=regression,
        severity_classification=classification,
        severity_threshold=threshold,
        subtype=subtype,
        survival=survival,
    )
