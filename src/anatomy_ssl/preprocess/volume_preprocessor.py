"""The in-memory preprocessing pipeline: reorient -> resample -> foreground crop -> normalize."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from anatomy_ssl.io.volume import Volume
from anatomy_ssl.preprocess.foreground_crop import foreground_box
from anatomy_ssl.preprocess.intensity_normalizer import foreground_mask, normalize_intensity
from anatomy_ssl.preprocess.preprocess_spec import PreprocessSpec
from anatomy_ssl.preprocess.ras_reorientation import AxisReorientation
from anatomy_ssl.preprocess.spacing_resampler import ResamplingGrid, resample_to_grid


@dataclass(frozen=True)
class PreprocessedVolume:
    """Result of `preprocess_volume`.

    Attributes:
        image: normalized image, `cache_dtype`, `(C, *size_vox)`, RAS affine in mm.
        label: integer label map on the same grid, or None.
        steps: what was done, for the cache sidecar (e.g. the crop box in resampled voxels).
    """

    image: Volume
    label: Volume | None
    steps: dict[str, Any] = field(default_factory=dict)


def preprocess_volume(
    image: Volume, spec: PreprocessSpec, label: Volume | None = None
) -> PreprocessedVolume:
    """Apply `spec` to an image and its (optional) label map, keeping them voxel-aligned.

    Args:
        image: raw image (HU for CT), validated by the reader.
        spec: what to do.
        label: integer label map on the image's grid (validated by `read_label`).

    Returns:
        The preprocessed pair. Labels are only ever permuted, resampled with nearest neighbour and
        cropped: never interpolated linearly, never intensity-transformed.
    """
    steps: dict[str, Any] = {"input_size_vox": list(image.size_vox)}
    if spec.reorient and image.spatial_dims == 3:
        reorientation = AxisReorientation.to_ras(image)
        steps["reorient_transform"] = reorientation.transform.astype(int).tolist()
        image = reorientation.apply(image)
        label = reorientation.apply(label) if label is not None else None
    if spec.target_spacing_mm is not None:
        grid = ResamplingGrid.for_spacing(image, spec.target_spacing_mm)
        image = resample_to_grid(image, grid, spec.image_interpolation)
        label = resample_to_grid(label, grid, "nearest") if label is not None else None
        steps["resampled_size_vox"] = list(grid.size_vox)
    if spec.foreground_crop:
        box = foreground_box(
            foreground_mask(image.array, spec),
            spacing_mm=image.spacing_mm,
            margin_mm=spec.foreground_margin_mm,
        )
        image = box.apply(image)
        label = box.apply(label) if label is not None else None
        steps["foreground_box_vox"] = {"start": list(box.start), "stop": list(box.stop)}
    normalized = normalize_intensity(image.array, spec).astype(spec.cache_dtype, copy=False)
    image = image.with_array(np.ascontiguousarray(normalized))
    return PreprocessedVolume(image=image, label=label, steps=steps)
