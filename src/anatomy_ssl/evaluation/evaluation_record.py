"""One JSON record per (method, dataset, protocol, seed): what reports are built from.

Records are plain JSON written atomically under
`<records>/<dataset>/<method>/<protocol>-seed<k>.json`, so an interrupted benchmark keeps what it
finished and a re-run can skip it.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Collection, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from anatomy_ssl import __version__
from anatomy_ssl.errors import InputError

RECORD_FORMAT_VERSION = 1


@dataclass(frozen=True)
class EvaluationRecord:
    """The outcome of one protocol on one dataset for one encoder and seed.

    Attributes:
        method: the pretraining method of the encoder ("scratch", "simclr", ...), or a label.
        dataset: dataset name.
        protocol: protocol name ("few_shot_segmentation", "correspondence", "locality",
            "compositionality", "patient_prediction").
        seed: the protocol's seed (0 for deterministic protocols).
        metrics: flat name -> number (NaN allowed, written as null).
        samples: metric name -> per-unit values (per test volume, per landmark pair, ...) that a
            report may bootstrap over when there is a single seed.
        settings: the protocol's arguments, for regeneration.
        encoder: where the encoder came from and what its card says (name, step, ...).
        details: anything else a report may plot (curves, per-structure tables); JSON values.
    """

    method: str
    dataset: str
    protocol: str
    seed: int
    metrics: dict[str, float]
    samples: dict[str, list[float]] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    encoder: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)

    def relative_path(self) -> Path:
        return Path(self.dataset) / self.method / f"{self.protocol}-seed{self.seed}.json"

    def to_json(self) -> str:
        payload = {
            "format_version": RECORD_FORMAT_VERSION,
            **asdict(self),
            "anatomy_ssl_version": __version__,
            "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        return json.dumps(_json_safe(payload), indent=1, allow_nan=False)


def write_record(record: EvaluationRecord, records_dir: str | Path) -> Path:
    """Write `record` under `records_dir` atomically; returns its path."""
    path = Path(records_dir) / record.relative_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    staging.write_text(record.to_json())
    staging.replace(path)
    return path


def record_exists(
    records_dir: str | Path, *, dataset: str, method: str, protocol: str, seed: int
) -> bool:
    """Whether that record was already written (for resumable suites)."""
    return (Path(records_dir) / dataset / method / f"{protocol}-seed{seed}.json").is_file()


def read_records(records_dir: str | Path) -> list[EvaluationRecord]:
    """Every record below `records_dir`, sorted by (dataset, protocol, method, seed)."""
    records = [read_record(path) for path in sorted(Path(records_dir).rglob("*-seed*.json"))]
    return sorted(records, key=lambda r: (r.dataset, r.protocol, r.method, r.seed))


def read_record(path: str | Path) -> EvaluationRecord:
    """One record file; null metrics come back as NaN."""
    path = Path(path)
    try:
        payload = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise InputError(path, f"not a readable evaluation record: {error}") from error
    if payload.get("format_version") != RECORD_FORMAT_VERSION:
        raise InputError(path, f"unsupported record format {payload.get('format_version')!r}")
    try:
        return EvaluationRecord(
            method=str(payload["method"]),
            dataset=str(payload["dataset"]),
            protocol=str(payload["protocol"]),
            seed=int(payload["seed"]),
            metrics={k: _number(v) for k, v in payload["metrics"].items()},
            samples={k: [_number(x) for x in v] for k, v in payload.get("samples", {}).items()},
            settings=payload.get("settings", {}),
            encoder=payload.get("encoder", {}),
            details=payload.get("details", {}),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise InputError(path, f"malformed evaluation record: {error}") from error


def same_settings(
    recorded: Mapping[str, Any], settings: Mapping[str, Any], *, ignore: Collection[str] = ()
) -> bool:
    """Whether a record was made with these protocol settings, the `ignore` keys left out (as
    JSON: a tuple and the list it was saved as are equal)."""

    def kept(values: Mapping[str, Any]) -> str:
        return json.dumps({k: v for k, v in values.items() if k not in ignore}, sort_keys=True)

    return kept(recorded) == kept(settings)


def _number(value: Any) -> float:
    return math.nan if value is None else float(value)


def _json_safe(value: Any) -> Any:
    """NaN / Inf -> null, numpy scalars and arrays -> Python numbers and lists, tuples -> lists."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if hasattr(value, "tolist"):  # numpy arrays and scalars
        return _json_safe(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    return value
