"""The `rejects*.csv` of a batch job: one row per input that failed, with its reason."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path


def write_rejects(path: Path, header: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    """Write `header` and `rows` as CSV to `path` atomically (a uniquely named temporary file,
    then a rename), so two runs writing into one folder never share a staging file and a reader
    never sees half a file."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    temporary.write_text(buffer.getvalue())
    temporary.replace(path)
