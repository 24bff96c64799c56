"""The content-addressed volume cache: `<root>/<spec_hash>/entries/<key>/` per preprocessed volume.

Layout::

    <root>/
      <spec_hash>/                 one folder per PreprocessSpec (a changed spec -> new folder)
        spec.json                  the spec's fields
        entries/<key>/             key = hash(spec, source image and label bytes, subject id)
          image.npy label.npy meta.json
        rejected.csv               path,reason of inputs that could not be used (per shard)
        summary.json               counts and timings of the last run (per shard)
      .staging/                    temporary entries being written (removed when stale)
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

from anatomy_ssl.errors import InputError
from anatomy_ssl.preprocess.cache_entry import META_FILE, write_json_atomically
from anatomy_ssl.preprocess.cached_volume import CachedVolume
from anatomy_ssl.preprocess.preprocess_spec import PreprocessSpec

SPEC_FILE = "spec.json"
ENTRIES_FOLDER = "entries"
STAGING_FOLDER = ".staging"


def entry_key(spec_hash: str, image_sha256: str, label_sha256: str | None, subject_id: str) -> str:
    """Address of an entry (24 hex chars): the spec, the bytes of its sources and its subject.

    The subject keeps byte-identical images of two subjects apart (an entry each, so neither
    vanishes from its split); subject, split and metadata are otherwise sidecar facts that a
    re-run rewrites in place (see `preprocess_dataset`).
    """
    material = json.dumps([spec_hash, image_sha256, label_sha256, subject_id])
    return hashlib.sha256(material.encode()).hexdigest()[:24]


class VolumeCache:
    """A cache root folder, possibly holding entries for several PreprocessSpecs."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    @property
    def staging_root(self) -> Path:
        return self.root / STAGING_FOLDER

    def spec_folder(self, spec_hash: str) -> Path:
        return self.root / spec_hash

    def entries_folder(self, spec_hash: str) -> Path:
        return self.spec_folder(spec_hash) / ENTRIES_FOLDER

    def register_spec(self, spec: PreprocessSpec) -> Path:
        """Create the spec's folder and write `spec.json` (idempotent); returns the folder."""
        folder = self.spec_folder(spec.hash)
        folder.mkdir(parents=True, exist_ok=True)
        if not (folder / SPEC_FILE).is_file():
            write_json_atomically(folder / SPEC_FILE, spec.to_dict())
        return folder

    def spec_hashes(self) -> list[str]:
        """Hashes of the specs with a folder in this cache, sorted."""
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if (p / SPEC_FILE).is_file())

    def spec(self, spec_hash: str) -> PreprocessSpec:
        path = self.spec_folder(spec_hash) / SPEC_FILE
        return PreprocessSpec.from_dict(json.loads(path.read_text()), source=str(path))

    def resolve_spec_hash(self, spec_hash: str | None = None) -> str:
        """The given spec hash if present, else the cache's only one; clear errors otherwise."""
        available = self.spec_hashes()
        if spec_hash is not None:
            if spec_hash not in available:
                raise InputError(
                    self.root, f"no entries for spec {spec_hash}; available: {available or 'none'}"
                )
            return spec_hash
        if not available:
            raise InputError(self.root, "not a volume cache (no <spec_hash>/spec.json inside)")
        if len(available) > 1:
            raise InputError(
                self.root,
                f"holds {len(available)} preprocessing specs ({', '.join(available)}); "
                "choose one with spec_hash",
            )
        return available[0]

    def entries(self, spec_hash: str | None = None, split: str | None = None) -> list[CachedVolume]:
        """Complete entries of one spec, sorted by subject id then key; optionally one split."""
        folder = self.entries_folder(self.resolve_spec_hash(spec_hash))
        volumes = [CachedVolume(p) for p in _entry_folders(folder)]
        if split is not None:
            volumes = [v for v in volumes if v.split == split]
        return sorted(volumes, key=lambda v: (v.subject_id, v.key))


def _entry_folders(folder: Path) -> Iterator[Path]:
    if folder.is_dir():
        for child in folder.iterdir():
            if (child / META_FILE).is_file():
                yield child
