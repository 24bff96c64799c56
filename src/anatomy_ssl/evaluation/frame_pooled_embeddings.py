"""Patient embeddings pooled over an anatomical frame, for the patient-level protocol: every
subject of the evaluation cache framed (`build_frame`, resumable, so every encoder of a suite
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
from anatomy_ssl.evaluation.evaluation_dataset import EvaluationSubject
from anatomy_ssl.models import Encoder

#: `build_frame` settings a protocol may set.
FRAME_SETTINGS = ("patch_vox", "stride_vox", "region_labels", "min_coverage", "reference_key")


@dataclass(frozen=True)
class FramePooledEmbeddings:
    """One pooled embedding per framed subject.

    Attributes:
        embeddings: `(N, D)` float32, the mean of each subject's location embeddings.
        subject_ids: `(N,)` the subjects, in the order given (those the frame could not serve
            left out).
        frame_folder: the frame used.
        notes: subjects left out and why.
    """

    embeddings: np.ndarray
    subject_ids: tuple[str, ...]
    frame_folder: Path
    notes: tuple[str, ...]


def frame_pooled_embeddings(
    encoder: Encoder,
    subjects: Sequence[EvaluationSubject],
    frame_settings: Mapping[str, Any],
    *,
    workers: int = 1,
    device: str = "cpu",
    progress: bool = True,
) -> FramePooledEmbeddings:
    """Frame the subjects' cache (once; later calls only read) and pool each subject's
    location embeddings (mean).

    Args:
        encoder: any encoder with the volumes' dims and channels.
        subjects: evaluation subjects, all from one cache.
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
            Path(subjects[0].volume.folder),
            f"unknown frame settings {unknown}; known: {', '.join(FRAME_SETTINGS)}",
        )
    entries = Path(subjects[0].volume.folder).parent  # <cache>/<spec_hash>/entries
    cache_root, spec_hash = entries.parents[1], entries.parent.name
    report = build_frame(
        cache_root,
        spec_hash=spec_hash,
        workers=workers,
        progress=progress,
        **dict(frame_settings),
    )
    frame = load_frame(cache_root, Path(report.folder), skip_stale=True)
    volumes = {s.volume.key: s.volume for s in subjects}
    framed = set(frame.subject_keys)
    rows, ids, notes = [], [], []
    for subject in subjects:
        key = subject.volume.key
        if key not in framed:
            notes.append(f"{subject.subject_id}: not framed (registration rejected)")
            continue
        embeddings, valid = location_embeddings(encoder, frame, volumes, key, device=device)
        if not valid.any():
            notes.append(f"{subject.subject_id}: the frame has no valid location in it")
            continue
        rows.append(patient_embedding(embeddings, valid))
        ids.append(subject.subject_id)
    if len(rows) < 2:
        raise InputError(
            Path(report.folder),
            f"the frame serves {len(rows)} of {len(subjects)} subjects; need at least 2",
        )
    return FramePooledEmbeddings(np.stack(rows), tuple(ids), Path(report.folder), tuple(notes))
