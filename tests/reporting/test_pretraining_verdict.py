import numpy as np

from anatomy_ssl.evaluation.evaluation_record import EvaluationRecord
from anatomy_ssl.reporting.pretraining_verdict import pretraining_verdicts
from anatomy_ssl.reporting.summary_table import build_summary_table


def _units(method, per_seed, metric="frozen_k1_dice"):
    """Records over seeds with per-test-volume samples (paired by seed and unit)."""
    return [
        EvaluationRecord(
            method,
            "phantom",
            "few_shot_segmentation",
            seed,
            metrics={metric: float(np.mean(units))},
            samples={metric: list(units)},
        )
        for seed, units in enumerate(per_seed)
    ]


BASE = np.random.default_rng(0).uniform(0.3, 0.5, size=(3, 6))  # (seeds, test volumes)


def test_a_lone_pretrained_encoder_that_loses_is_called_worse_in_one_line():
    # the demo's situation: one method, worse than random init, no ceiling
    table = build_summary_table(_units("scratch", BASE) + _units("simclr", BASE - 0.08))
    (line,) = pretraining_verdicts(table)
    assert line.startswith("frozen k=1 Dice: simclr is significantly worse than scratch (-0.080 [")
    assert line.endswith("instrument not checked (no supervised ceiling).")
    assert "(the only one run)" in " ".join(table.legend())
    assert "Best generic baseline" not in " ".join(table.legend())


def test_the_best_pretrained_encoder_is_named_and_controls_are_not_candidates():
    records = (
        _units("intensity_floor", BASE - 0.2)
        + _units("scratch", BASE)
        + _units("simclr", BASE + 0.05)
        + _units("eden", BASE + 0.001)
        + _units("supervised", BASE + 0.3)
        + _units("intensity_histogram", BASE + 0.2)  # a positive control, not a candidate
    )
    (line,) = pretraining_verdicts(build_summary_table(records))
    assert "the best pretrained encoder, simclr, is significantly better than scratch" in line
    assert "(+0.050 [+0.050, +0.050]" in line
    assert line.endswith("instrument valid (the supervised ceiling beats scratch).")


def test_an_invalid_column_is_said_to_be_no_evidence():
    records = _units("scratch", BASE) + _units("moco", BASE) + _units("supervised", BASE)
    (line,) = pretraining_verdicts(build_summary_table(records))
    assert "moco is not significantly different from scratch" in line
    assert "instrument INVALID" in line and "no evidence" in line


def test_no_scratch_no_verdict():
    assert pretraining_verdicts(build_summary_table(_units("simclr", BASE))) == []


def test_a_column_that_measures_the_data_gets_no_verdict():
    # the true risk score's C-index: the same ceiling in every row, shown but never compared
    c_index = {"scratch": [0.50, 0.52, 0.51], "simclr": [0.58, 0.60, 0.59]}
    records = [
        EvaluationRecord(
            method,
            "phantom",
            "patient_prediction",
            seed,
            metrics={"survival_c_index": value, "survival_c_index_true_risk": 0.66},
        )
        for method, values in c_index.items()
        for seed, value in enumerate(values)
    ]
    table = build_summary_table(records)
    assert "survival_c_index_true_risk" in table.metrics
    (line,) = pretraining_verdicts(table)
    assert line.startswith("survival C-index: simclr is")
    ceiling = table.cell("simclr", "survival_c_index_true_risk")
    assert ceiling.vs_scratch is None and ceiling.vs_generic is None
