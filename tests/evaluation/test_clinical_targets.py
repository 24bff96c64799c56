"""Clinical table parsing and alignment to embedding rows."""

from __future__ import annotations

import numpy as np
import pytest

from anatomy_ssl.errors import InputError
from anatomy_ssl.evaluation.clinical_targets import (
    ClinicalColumns,
    binarize,
    clinical_targets,
    read_clinical_table,
)


def _table() -> dict[str, dict[str, str]]:
    columns = ("severity", "subtype", "survival_years", "event", "risk_score")
    rows = {
        "s1": ("0.2", "panlobular", "3.5", "1", "0.4"),
        "s2": ("0.7", "paraseptal", "8", "0", "1.4"),
        "s3": ("0.5", "centrilobular", "1.25", "1", "1.0"),
    }
    return {subject: dict(zip(columns, values, strict=True)) for subject, values in rows.items()}


def test_phantom_table_by_path_matches_fixture_rows(phantom_eval_data):
    ids = [volume.subject_id for volume in phantom_eval_data.volumes][::-1]
    targets = clinical_targets(ids, phantom_eval_data.root / "clinical.csv")
    assert targets.subject_ids == tuple(ids)
    rows = [phantom_eval_data.clinical[subject] for subject in ids]
    np.testing.assert_allclose(targets.severity, [float(r["severity"]) for r in rows])
    assert targets.subtype.tolist() == [r["subtype"] for r in rows]
    assert set(targets.subtype.tolist()) <= {"centrilobular", "panlobular", "paraseptal"}
    np.testing.assert_allclose(targets.survival_time, [float(r["survival_years"]) for r in rows])
    assert targets.event.dtype == bool
    assert targets.event.tolist() == [r["event"] == "1" for r in rows]
    np.testing.assert_allclose(targets.risk_score, [float(r["risk_score"]) for r in rows])
    assert (
        read_clinical_table(phantom_eval_data.root / "clinical.csv") == phantom_eval_data.clinical
    )


def test_rows_follow_the_embedding_order_and_extra_subjects_are_ignored():
    targets = clinical_targets(["s3", "s1"], _table())
    np.testing.assert_allclose(targets.severity, [0.5, 0.2])
    assert targets.subtype.tolist() == ["centrilobular", "panlobular"]
    assert targets.event.tolist() == [True, True]


def test_only_the_tasks_asked_for_are_parsed():
    table = {k: {"severity": v["severity"]} for k, v in _table().items()}
    targets = clinical_targets(["s1", "s2"], table, tasks=["severity"])
    assert targets.subtype is None and targets.survival_time is None and targets.event is None
    np.testing.assert_allclose(targets.severity, [0.2, 0.7])


def test_risk_score_is_optional_and_columns_can_be_renamed():
    table = {
        k: {"grade": v["severity"], "months": v["survival_years"], "dead": v["event"]}
        for k, v in _table().items()
    }
    columns = ClinicalColumns(severity="grade", time="months", event="dead")
    targets = clinical_targets(["s1", "s2"], table, tasks=["severity", "survival"], columns=columns)
    assert targets.risk_score is None
    np.testing.assert_allclose(targets.survival_time, [3.5, 8.0])


@pytest.mark.parametrize(
    ("subject", "column", "value", "message"),
    [
        ("s2", "severity", "high", "'severity'.*s2 \\('high'\\)"),
        ("s2", "severity", "nan", "'severity'.*finite.*s2"),
        ("s1", "survival_years", "inf", "'survival_years'.*finite.*s1"),
        ("s3", "subtype", " ", "'subtype'.*missing value.*s3"),
        ("s1", "event", "2", "'event'.*0 or 1.*s1"),
        ("s2", "survival_years", "-1", "'survival_years'.*negative.*s2"),
        ("s3", "risk_score", "?", "'risk_score'.*s3"),
    ],
)
def test_bad_values_name_subject_and_column(subject, column, value, message):
    table = _table()
    table[subject][column] = value
    with pytest.raises(ValueError, match=message):
        clinical_targets(["s1", "s2", "s3"], table)


def test_missing_column_missing_subject_duplicates_and_unknown_tasks():
    table = _table()
    del table["s2"]["subtype"]
    with pytest.raises(ValueError, match="no column 'subtype' for s2"):
        clinical_targets(["s1", "s2"], table)
    with pytest.raises(ValueError, match="missing from the clinical table: s9"):
        clinical_targets(["s1", "s9"], _table())
    with pytest.raises(ValueError, match=r"unique.*s1"):
        clinical_targets(["s1", "s2", "s1"], _table())
    with pytest.raises(ValueError, match="unknown clinical task"):
        clinical_targets(["s1"], _table(), tasks=["sex"])


def test_errors_from_a_file_name_the_file(tmp_path):
    path = tmp_path / "clinical.csv"
    path.write_text("subject_id,severity\na,0.1\nb,oops\n")
    with pytest.raises(InputError, match=r"clinical\.csv.*'severity'.*b \('oops'\)"):
        clinical_targets(["a", "b"], path, tasks=["severity"])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("subject_id,severity\na,0.1\na,0.2\n", "line 3.*'a' appears more than once"),
        ("id,severity\na,0.1\n", "no 'subject_id' column"),
        ("subject_id,severity\na,0.1,7\n", "line 2.*number of values"),
        ("subject_id,severity\na\n", "line 2.*number of values"),
        ("", "empty"),
    ],
)
def test_malformed_tables_are_refused(tmp_path, text, message):
    path = tmp_path / "clinical.csv"
    path.write_text(text)
    with pytest.raises(InputError, match=message):
        read_clinical_table(path)


def test_missing_file_is_refused(tmp_path):
    with pytest.raises(InputError, match="not found"):
        read_clinical_table(tmp_path / "nope.csv")


def test_binarize_by_median_or_threshold():
    values = np.array([0.1, 0.4, 0.2, 0.9])
    labels, cut = binarize(values)
    assert cut == pytest.approx(0.3) and labels.tolist() == [False, True, False, True]
    labels, cut = binarize(values, 0.15)
    assert cut == 0.15 and labels.sum() == 3
    with pytest.raises(ValueError, match="one side"):
        binarize(values, 1.0)
