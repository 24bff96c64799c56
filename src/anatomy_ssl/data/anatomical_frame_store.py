"""Loading DrasCLR's anatomical frame (built by `anatomy.build_frame`) for training: the reference
grid of locations and, for every framed subject, where each location lies and whether it can be
used, stacked so that (subject, location) pairs are drawn without a loop over subjects.

Files are read with `allow_pickle=False`. A subject file whose cache entry has changed or left
the cache since it was framed is refused by name (`StaleFrameError`) rather than handed out with
centres that point at the wrong anatomy.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from anatomy_ssl.anatomy.anatomical_frame_files import (
    LOCATIONS_FILE,
    entry_fingerprint,
    frame_folder,
    read_locations,
    read_subject_frame,
    scan_frame_files,
)
from anatomy_ssl.anatomy.location_grid import LocationGrid
from anatomy_ssl.errors import AnatomySSLError, InputError
from anatomy_ssl.preprocess import VolumeCache

logger = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class AnatomicalFrame:
    """A frame's L locations and its N framed subjects, in S spatial dimensions.

    Attributes:
        frame_id: the frame's id; `folder` holds its files.
        reference_key, reference_subject: the volume the locations were defined on.
        locations: the grid (`centres_mm`, `normalized` in [-1, 1], patch and stride, voxels).
        subject_keys, subject_ids: `(N,)` the framed subjects' entry keys (sorted) and ids.
        centres_vox: `(N, L, S)` float64 centre of each location in each subject's cache
            volume, continuous voxel coordinates.
        valid: `(N, L)` bool, whether subject n can serve location l.
        reference_to_subject_mm: `(N, S + 1, S + 1)` RAS mm matrices, reference -> subject.
        missing: keys of the cache's entries (in the loaded split) without a current file
            (rejected, or not framed yet).
    """

    frame_id: str
    folder: Path
    reference_key: str
    reference_subject: str
    locations: LocationGrid
    subject_keys: tuple[str, ...]
    subject_ids: tuple[str, ...]
    centres_vox: np.ndarray
    valid: np.ndarray
    reference_to_subject_mm: np.ndarray
    missing: tuple[str, ...]

    def subject_index(self, key: str) -> int:
        """Row of a subject (by entry key) in the stacked arrays."""
        try:
            return self.subject_keys.index(key)
        except ValueError:
            raise KeyError(f"subject entry {key!r} is not in frame {self.frame_id}") from None

    def valid_pairs(self) -> np.ndarray:
        """`(P, 2)` int64 (subject row, location index) of every usable pair."""
        return np.argwhere(self.valid).astype(np.int64)


class StaleFrameError(AnatomySSLError):
    """Some subject files of a frame no longer match the cache.

    Attributes:
        stale: `{path: what changed, naming the subject}` of each stale file.
    """

    def __init__(self, folder: Path, stale: dict[Path, str]) -> None:
        self.stale = stale
        listing = "\n  ".join(f"{path.name}: {reason}" for path, reason in stale.items())
        super().__init__(
            f"{folder}: {len(stale)} stale subject frame file(s) (the cache changed since they "
            f"were framed; rerun `anatomy-ssl frame` to refresh them):\n  {listing}"
        )


def _locate(cache: VolumeCache, frame: str | Path, spec_hash: str | None) -> tuple[Path, str]:
    """The frame folder and its spec hash, from a frame id or a frame folder."""
    as_path = Path(frame)
    if isinstance(frame, Path) or as_path.is_dir():
        return as_path, as_path.parent.parent.name
    spec_hash = cache.resolve_spec_hash(spec_hash)
    return frame_folder(cache, spec_hash, str(frame)), spec_hash


def load_frame(
    cache_root: VolumeCache | str | Path,
    frame: str | Path,
    *,
    spec_hash: str | None = None,
    split: str = "all",
    skip_stale: bool = False,
) -> AnatomicalFrame:
    """The locations and every current subject file of a frame, stacked by subject key.

    Args:
        cache_root: the cache (or its root folder).
        frame: a frame id, or the frame's folder (`<cache>/<spec_hash>/frame/<frame id>`).
        spec_hash: the preprocessing spec of a frame id (None: the cache's only one).
        split: load only the subjects of this manifest split ("all": every framed subject).
        skip_stale: leave stale files out with a logged warning instead of raising.

    Raises:
        InputError: no frame there, or no framed subject (in the split).
        StaleFrameError: stale subject files, naming each subject and what changed (unless
            `skip_stale`).
    """
    cache = cache_root if isinstance(cache_root, VolumeCache) else VolumeCache(cache_root)
    folder, spec_hash = _locate(cache, frame, spec_hash)
    if not (folder / LOCATIONS_FILE).is_file():
        raise InputError(folder, "no anatomical frame here (run `anatomy-ssl frame`)")
    grid, meta = read_locations(folder)
    entries = {volume.key: volume for volume in cache.entries(spec_hash)}
    fingerprints = {key: entry_fingerprint(volume) for key, volume in entries.items()}
    scan = scan_frame_files(folder, fingerprints, locations=grid.count)
    if scan.stale:
        error = StaleFrameError(folder, scan.stale)
        if not skip_stale:
            raise error
        logger.warning("%s", error)
    wanted = sorted(key for key, v in entries.items() if split == "all" or v.split == split)
    keys = [key for key in wanted if key in scan.current]
    if not keys:
        where = "" if split == "all" else f" of split {split!r}"
        raise InputError(folder, f"no framed subject{where} (run `anatomy-ssl frame`)")
    frames = [read_subject_frame(scan.current[key]) for key in keys]
    return AnatomicalFrame(
        frame_id=folder.name,
        folder=folder,
        reference_key=str(meta["reference_key"]),
        reference_subject=str(meta["reference_subject"]),
        locations=grid,
        subject_keys=tuple(keys),
        subject_ids=tuple(frame.subject_id for frame in frames),
        centres_vox=np.stack([frame.centres_vox for frame in frames]),  # (N, L, S)
        valid=np.stack([frame.valid for frame in frames]),  # (N, L)
        reference_to_subject_mm=np.stack([frame.reference_to_subject_mm for frame in frames]),
        missing=tuple(key for key in wanted if key not in scan.current),
    )
