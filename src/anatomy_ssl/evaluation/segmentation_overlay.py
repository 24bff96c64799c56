"""A PNG that shows a predicted segmentation next to the reference, for the report."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure


def save_segmentation_overlay(
    image: np.ndarray,
    reference: np.ndarray,
    prediction: np.ndarray,
    path: str | Path,
    *,
    title: str = "",
) -> Path:
    """Write reference | prediction label overlays on the image.

    3D volumes `(i, j, k)` in RAS show the coronal and axial slices through the labelled centre;
    2D images `(rows, cols)` show the image itself.

    Args:
        image: `(*size)` intensities (one channel).
        reference: `(*size)` integer labels.
        prediction: `(*size)` integer labels.
        path: PNG to write (folders created).
        title: figure title.

    Returns:
        `path`.
    """
    if not image.shape == reference.shape == prediction.shape:
        raise ValueError(
            f"image {image.shape}, reference {reference.shape} and prediction "
            f"{prediction.shape} must have one shape"
        )
    views = _views(image, reference, prediction)
    classes = int(max(reference.max(), prediction.max(), 1))
    colours = np.vstack([[0, 0, 0, 0], _palette(classes)])
    label_map = ListedColormap(colours)
    figure = Figure(figsize=(3.2 * len(views), 6.4), dpi=100)
    axes = figure.subplots(2, len(views), squeeze=False)
    for column, (name, slice_image, slice_reference, slice_prediction) in enumerate(views):
        low, high = np.percentile(slice_image, [1, 99])
        for row, (labels, kind) in enumerate(
            [(slice_reference, "reference"), (slice_prediction, "prediction")]
        ):
            axis = axes[row, column]
            axis.imshow(slice_image, cmap="gray", vmin=low, vmax=max(high, low + 1e-6))
            axis.imshow(
                labels, cmap=label_map, vmin=0, vmax=classes, alpha=0.45, interpolation="nearest"
            )
            axis.set_title(f"{name}: {kind}", fontsize=9)
            axis.set_axis_off()
    if title:
        figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, metadata={"Software": None})
    return path


def _views(
    image: np.ndarray, reference: np.ndarray, prediction: np.ndarray
) -> list[tuple[str, np.ndarray, np.ndarray, np.ndarray]]:
    """(name, image, reference, prediction) 2D slices through the labelled centre (RAS input)."""
    if image.ndim == 2:  # (rows, cols): already a picture
        return [("image", image, reference, prediction)]
    labelled = np.argwhere(reference > 0)
    centre = (
        labelled.mean(axis=0).round().astype(int) if len(labelled) else np.array(image.shape) // 2
    )
    _, j, k = (int(c) for c in centre)

    # radiological convention: the patient's right on the viewer's left
    def coronal(volume: np.ndarray) -> np.ndarray:  # slice j: rows superior first, cols R..L
        return volume[::-1, j, ::-1].T

    def axial(volume: np.ndarray) -> np.ndarray:  # slice k: rows anterior first, cols R..L
        return volume[::-1, ::-1, k].T

    return [
        (name, view(image), view(reference), view(prediction))
        for name, view in (("coronal", coronal), ("axial", axial))
    ]


def _palette(count: int) -> np.ndarray:
    """`(count, 4)` distinct RGBA colours (tab20, cycled)."""
    from matplotlib import colormaps

    base = colormaps["tab20"](np.linspace(0, 1, 20))
    return base[np.arange(count) % 20]
