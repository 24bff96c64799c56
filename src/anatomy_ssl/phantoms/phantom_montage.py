"""Montage PNG of subjects: axial, coronal and sagittal slices with a label overlay."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from anatomy_ssl.phantoms.phantom_subject import PhantomSubject


def _views(volume: np.ndarray, centre: tuple[int, int, int]) -> list[np.ndarray]:
    """Axial (viewed from the feet), coronal and sagittal slices of an RAS `(X, Y, Z)` array,
    in radiological display: patient right on the viewer's left, anterior / superior at the top."""
    i, j, k = centre
    axial = volume[:, :, k].T[::-1, ::-1]  # rows: anterior at top; columns: right on the left
    coronal = volume[:, j, :].T[::-1, ::-1]  # rows: superior at top
    sagittal = volume[i, :, :].T[::-1, ::-1]  # rows: superior at top; anterior on the left
    return [axial, coronal, sagittal]


def save_montage(
    subjects: Sequence[PhantomSubject],
    path: str | Path,
    *,
    label_set: str = "level1",
    window: tuple[float, float] = (-1000.0, 600.0),
    centre_fraction: tuple[float, float, float] = (0.5, 0.45, 0.62),
) -> Path:
    """One row per subject: axial / coronal / sagittal slices with a label overlay.

    The slices cross at `centre_fraction` of each axis (the default passes through the heart and
    lungs of the CT phantom). Slices are shown at their physical aspect ratio (anisotropic voxels
    are not distorted).
    """
    # Imported here, not at module level: importing pyplot takes most of a second, and every
    # phantom worker process imports this package without ever drawing.
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    figure, axes = plt.subplots(len(subjects), 3, figsize=(10, 3.4 * len(subjects)), squeeze=False)
    for row, subject in zip(axes, subjects, strict=True):
        size = subject.image.shape
        centre = (
            int(size[0] * centre_fraction[0]),
            int(size[1] * centre_fraction[1]),
            int(size[2] * centre_fraction[2]),
        )
        spacing = subject.spacing_mm
        aspects = [spacing[1] / spacing[0], spacing[2] / spacing[0], spacing[2] / spacing[1]]
        labels = subject.label_maps.get(label_set)
        label_views = _views(labels, centre) if labels is not None else [None] * 3
        titles = ["axial", "coronal", "sagittal"]
        for ax, view, label_view, aspect, title in zip(
            row, _views(subject.image, centre), label_views, aspects, titles, strict=True
        ):
            ax.imshow(view, cmap="gray", vmin=window[0], vmax=window[1], aspect=aspect)
            if label_view is not None:
                overlay = np.ma.masked_equal(label_view, 0)
                ax.imshow(overlay, cmap="tab20", alpha=0.35, aspect=aspect, interpolation="nearest")
            ax.set_title(f"{subject.subject_id} {title}", fontsize=9)
            ax.axis("off")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return path
