"""Patient embeddings pooled over an anatomical frame (`anatomy-ssl embed --frame`, the
patient-level protocol): the volumes' cache framed (`build_frame`, resumable, so every encoder
reuses one frame), each valid location's patch encoded (with its location when the encoder is
location-conditioned, DrasCLR) and the locations averaged into one vector per subject."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from anatomy_ssl.anatomy import build_frame
from anatomy_ssl.data import load_frame
from anatomy_ssl.embedding.frame_embedding import location_embeddings, patient_embedding
from anatomy_ssl.errors import InputError
from anatomy_ssl.models import Encoder
from anatomy_ssl.preprocess import CachedVolume

#: `build_frame` settings a protocol may set.
FRAME_SETTINGS = ("patch_vox", "stride_vox", "region_labels", "min_coverage", "reference_key")


@dataclass(frozen=True)
class FramePooledEmbeddings:
    """One pooled embedding per framed volume.

    Attributes:
        embeddings: `(N, D)` float32, the mean of each volume's location embeddings.
        volumes: `(N,)` the volumes, in the order given (those the frame could not serve left
            out).
        locations: `(N,)` each volume's `(L, D)` float32 location embeddings (NaN rows at its
            invalid locations).
        location_labels: `(N,)` each volume's `(L,)` int64 label at each location's centre
            voxel (-1 at invalid locations and for volumes without a label map): which region
            a location's patch is centred in, for regional probes.
        frame_folder: the frame used.
        notes: volumes left out and why, by subject.
    """

    embeddings: np.ndarray
    volumes: tuple[CachedVolume, ...]
    locations: tuple[np.ndarray, ...]
    location_labels: tuple[np.ndarray, ...]
    frame_folder: Path
    notes: tuple[str, ...]

    @property
    def subject_ids(self) -> tuple[str, ...]:
        return tuple(volume.subject_id for volume in self.volumes)


def frame_pooled_embeddings(
    encoder: Encoder,
    volumes: Sequence[CachedVolume],
    frame_settings: Mapping[str, Any],
    *,
    workers: int = 1,
    device: str = "cpu",
    progress: bool = True,
) -> FramePooledEmbeddings:
    """Frame the volumes' cache (once; later calls only read) and pool each volume's location
    embeddings (mean).

    Args:
        encoder: any encoder with the volumes' dims and channels.
        volumes: cache entries, all from one cache and preprocessing spec.
        frame_settings: `build_frame` keyword arguments among `FRAME_SETTINGS` (defaults: 32^3
            patches at stride 26 on the body foreground).
        workers: registration processes.
        device: where the encoder runs.
        progress: progress bars.

    Raises:
        InputError: unknown frame settings, or fewer than two subjects the frame can serve.
    """
    unknown = sorted(set(frame_settings) - set(FRAME_SETTINGS))
    if unknown:
        raise InputError(
            volumes[0].folder,
            f"unknown frame settings {unknown}; known: {', '.join(FRAME_SETTINGS)}",
        )
    entries = volumes[0].folder.parent  # <cache>/<spec_hash>/entries
    cache_root, spec_hash = entries.parents[1], entries.parent.name
    report = build_frame(
        cache_root,
        spec_hash=spec_hash,
        workers=workers,
        progress=progress,
        **dict(frame_settings),
    )
    frame = load_frame(cache_root, Path(report.folder), skip_stale=True)
    by_key = {volume.key: volume for volume in volumes}
    framed = set(frame.subject_keys)
    rows, kept, per_location, labels, notes = [], [], [], [], []
    for volume in volumes:
        if volume.key not in framed:
            notes.append(f"{volume.subject_id}: not framed (registration rejected)")
            continue
        embeddings, valid = location_embeddings(encoder, frame, by_key, volume.key, device=device)
        if not valid.any():
            notes.append(f"{volume.subject_id}: the frame has no valid location in it")
            continue
        rows.append(patient_embedding(embeddings, valid))
        kept.append(volume)
        per_location.append(embeddings)
        labels.append(
            _centre_labels(volume, frame.centres_vox[frame.subject_index(volume.key)], valid)
        )
    if len(rows) < 2:
        raise InputError(
            Path(report.folder),
            f"the frame serves {len(rows)} of {len(volumes)} volumes; need at least 2",
        )
    return FramePooledEmbeddings(
        np.stack(rows),
        tuple(kept),
        tuple(per_location),
        tuple(labels),
        Path(report.folder),
        tuple(notes),
    )


def _centre_labels(volume: CachedVolume, centres_vox: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """`(L,)` int64 label of the voxel at each `(L, S)` centre; -1 where not `valid` or the
    volume has no label map."""
    labels = np.full(len(valid), -1, dtype=np.int64)
    label_map = volume.load_label()  # (1, *S) or None
    if label_map is None:
        return labels
    size = np.asarray(label_map.shape[1:])
    voxel = np.clip(np.rint(centres_vox[valid]).astype(np.int64), 0, size - 1)  # (V, S)
    labels[valid] = label_map[(0, *voxel.T)]
    return labels
