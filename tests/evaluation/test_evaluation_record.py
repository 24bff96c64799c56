import json
import math

import numpy as np
import pytest

from anatomy_ssl.errors import InputError
from anatomy_ssl.evaluation.evaluation_record import (
    EvaluationRecord,
    read_record,
    read_records,
    record_exists,
    write_record,
)


def _record(method="simclr", seed=0, **metrics):
    return EvaluationRecord(
        method=method,
        dataset="phantom_ct",
        protocol="correspondence",
        seed=seed,
        metrics={"median_error_mm": 7.5, "within_10mm": math.nan, **metrics},
        samples={"error_mm": np.array([1.0, 2.5, np.inf])},
        settings={"radii_mm": (5, 10)},
        details={"per_landmark": {"carina": np.float32(3.0)}},
    )


def test_round_trip_keeps_values_and_turns_non_finite_into_null(tmp_path):
    path = write_record(_record(), tmp_path)
    assert path == tmp_path / "phantom_ct" / "simclr" / "correspondence-seed0.json"
    raw = json.loads(path.read_text())
    assert raw["metrics"]["within_10mm"] is None and raw["samples"]["error_mm"][2] is None
    back = read_record(path)
    assert back.metrics["median_error_mm"] == 7.5 and math.isnan(back.metrics["within_10mm"])
    assert back.samples["error_mm"][:2] == [1.0, 2.5] and math.isnan(back.samples["error_mm"][2])
    assert back.settings == {"radii_mm": [5, 10]}
    assert back.details == {"per_landmark": {"carina": 3.0}}
    assert not list(tmp_path.rglob(".*.tmp"))  # written atomically, nothing left behind


def test_records_are_listed_sorted_and_found(tmp_path):
    for method, seed in [("simclr", 1), ("scratch", 0), ("simclr", 0)]:
        write_record(_record(method, seed), tmp_path)
    listed = [(r.method, r.seed) for r in read_records(tmp_path)]
    assert listed == [("scratch", 0), ("simclr", 0), ("simclr", 1)]
    found = record_exists(
        tmp_path, dataset="phantom_ct", method="simclr", protocol="correspondence", seed=1
    )
    assert found and not record_exists(
        tmp_path, dataset="phantom_ct", method="moco", protocol="correspondence", seed=0
    )


def test_a_broken_record_is_named(tmp_path):
    path = tmp_path / "d" / "m" / "locality-seed0.json"
    path.parent.mkdir(parents=True)
    path.write_text("{")
    with pytest.raises(InputError, match=r"locality-seed0\.json.*not a readable"):
        read_record(path)
    path.write_text(json.dumps({"format_version": 1, "method": "m"}))
    with pytest.raises(InputError, match="malformed evaluation record"):
        read_record(path)
