"""A manifest: the list of images (plus labels, subjects, splits, metadata) a job works on."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from anatomy_ssl.errors import ManifestError
from anatomy_ssl.manifests.manifest_csv_writer import write_manifest_csv
from anatomy_ssl.manifests.manifest_record import ManifestRecord
from anatomy_ssl.manifests.manifest_validation import find_manifest_problems


@dataclass(frozen=True, init=False, repr=False)
class Manifest:
    """An immutable, ordered list of `ManifestRecord`s and where it came from.

    Attributes:
        source: where the manifest came from (a file or folder path), used in error messages.
        records: the records, in a deterministic order (readers keep the file's order, the folder
            scan sorts by path).
        rejects: images the source holds that could not become records, one printable line each
            naming the file and why (a folder scan refuses names that are not UTF-8); jobs
            report them and go on with the records.
    """

    source: str
    records: tuple[ManifestRecord, ...]
    rejects: tuple[str, ...]

    def __init__(
        self,
        source: str | Path,
        records: Iterable[ManifestRecord],
        rejects: Iterable[str] = (),
    ) -> None:
        records = tuple(records)
        for record in records:
            if not isinstance(record, ManifestRecord):
                raise TypeError(f"manifest records must be ManifestRecord, got {type(record)}")
        object.__setattr__(self, "source", str(source))
        object.__setattr__(self, "records", records)
        object.__setattr__(self, "rejects", tuple(rejects))

    def __repr__(self) -> str:
        rejected = f", {len(self.rejects)} rejected" if self.rejects else ""
        return f"Manifest(source={self.source!r}, {len(self.records)} records{rejected})"

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self) -> Iterator[ManifestRecord]:
        return iter(self.records)

    def __getitem__(self, index: int) -> ManifestRecord:
        return self.records[index]

    def problems(self, check_files: bool = True) -> list[str]:
        """Every consistency problem, one line each, without raising (see `validate`); with no
        records, the rejects follow, since they say where the images went."""
        problems = find_manifest_problems(self.records, check_files=check_files)
        return problems if self.records else problems + list(self.rejects)

    def validate(self, check_files: bool = True) -> None:
        """Raise if the manifest is inconsistent, listing every problem found at once.

        Problems: no records (followed by the rejects, if any); (with `check_files`) missing image
        or label files; a label that is its own image; an image listed twice (for one subject or
        several); a subject with records in two different splits.

        Args:
            check_files: also check that every image and label path exists (one `stat` each).

        Raises:
            ManifestError: with `problems` naming the offending paths.
        """
        problems = self.problems(check_files)
        if problems:
            raise ManifestError(self.source, problems)

    def subjects(self) -> tuple[str, ...]:
        """The distinct subject ids, sorted."""
        return tuple(sorted({record.subject_id for record in self.records}))

    def by_split(self, name: str | None) -> Manifest:
        """The records whose split is `name` (None: the records with no split), order kept."""
        return Manifest(self.source, (r for r in self.records if r.split == name), self.rejects)

    def with_splits(self, subject_splits: Mapping[str, str | None]) -> Manifest:
        """A copy where every record of each subject in `subject_splits` gets that split.

        Subjects not in the mapping keep their records' splits. `assign_subject_splits` computes
        such a mapping; a fixed split list (e.g. from a benchmark protocol) can be applied directly.

        Args:
            subject_splits: subject id -> split name (None clears the split).

        Raises:
            ManifestError: if the mapping names subjects that are not in the manifest.
        """
        known = {record.subject_id for record in self.records}
        unknown = sorted(set(subject_splits) - known)
        if unknown:
            raise ManifestError(
                self.source, [f"split given for unknown subject {s}" for s in unknown]
            )
        records = (
            replace(record, split=subject_splits[record.subject_id])
            if record.subject_id in subject_splits
            else record
            for record in self.records
        )
        return Manifest(self.source, records, self.rejects)

    def to_csv(self, path: str | Path) -> Path:
        """Write the manifest as a CSV that `manifest_from_csv` reads back to equal records.

        Written atomically (temporary file + `os.replace`). Columns `image, label, subject_id,
        split` and then the metadata keys; paths inside the CSV's folder are written relative to
        it, others absolute; None and absent metadata values are empty cells.

        Args:
            path: the CSV file to (over)write.

        Returns:
            The absolute path written.
        """
        return write_manifest_csv(self.records, path)
