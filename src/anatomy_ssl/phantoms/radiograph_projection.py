"""Digitally reconstructed radiographs (DRR): a PA chest X-ray computed from a CT-like subject.

Each pixel's ray sums the linear attenuation of the voxels it crosses (`xray_attenuation`); the
optical depth is windowed into [0, 1] so bone and soft tissue look bright and lungs dark, as on a
clinical chest film. Label maps are projected with a draw order (`label_draw_order`) and
landmarks are cast onto the detector through the same geometry (`radiograph_geometry`: patient's
head at the top, patient's Right on the viewer's left; affine to image-plane mm `u = -x`,
`v = -z`).

Three implementations, picked by the geometry: a parallel beam through an axis-aligned RAS
volume (the PhantomSubject contract) sums along the array's anterior-posterior axis, exactly
(`parallel_projection`); a perspective (cone-beam) projection of such a volume samples it plane by
plane (`cone_beam_projection`); any other affine is sampled ray by ray (`ray_casting`). The last
two interpolate attenuation trilinearly and labels by nearest neighbour.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from anatomy_ssl.phantoms.cone_beam_projection import cone_beam_projection
from anatomy_ssl.phantoms.label_draw_order import LabelDrawOrder, label_draw_order
from anatomy_ssl.phantoms.parallel_projection import parallel_projection
from anatomy_ssl.phantoms.phantom_subject import PhantomSubject
from anatomy_ssl.phantoms.radiograph import Radiograph
from anatomy_ssl.phantoms.radiograph_geometry import (
    RadiographGeometry,
    is_axis_aligned_ras,
    radiograph_geometry,
)
from anatomy_ssl.phantoms.ray_casting import ray_cast_projection
from anatomy_ssl.phantoms.xray_attenuation import (
    MU_WATER_PER_MM,
    hu_to_attenuation,
    line_integral_to_display,
)


def project_radiograph(
    subject: PhantomSubject,
    *,
    label_priority: Mapping[str, Sequence[int]] | None = None,
    pixel_spacing_mm: float | None = None,
    source_to_detector_mm: float | None = None,
    white_level: float | None = None,
    mu_water_per_mm: float = MU_WATER_PER_MM,
) -> Radiograph:
    """Compute the PA chest radiograph of a subject, with its projected labels and landmarks.

    Args:
        subject: the subject; its image in Hounsfield units, `(X, Y, Z)` RAS voxel order.
        label_priority: label-set name -> label values from bottom to top, deciding which label
            a pixel shows when its ray crosses several structures (later = on top); sets not
            named here draw in ascending label value. See `label_draw_order` for the full rule.
        pixel_spacing_mm: square pixel size on the detector, mm; None keeps the volume's own
            spacing (x across, z down; no resampling, pixels rectangular when those differ).
        source_to_detector_mm: None for a parallel projection; else the distance from a point
            source behind the patient to the detector at the patient's anterior face, mm (a
            chest X-ray uses about 1800), for a perspective projection magnifying posterior
            anatomy more. The detector then grows to hold the whole magnified shadow.
        white_level: optical depth displayed as 1.0; None uses each image's maximum.
        mu_water_per_mm: attenuation of water at the beam's effective energy, 1/mm.

    Returns:
        The radiograph: image `(1, H, W)` float32 in [0, 1], its `(3, 3)` affine, one `(H, W)`
        uint8 map per label set, and every landmark's `(row, col)` pixel position.

    Raises:
        ValueError: the image is not 3D, a label map does not match it, `label_priority` names
            a label set the subject lacks or is malformed, or bad geometry parameters.
    """
    size_vox = tuple(int(n) for n in subject.image.shape)
    if len(size_vox) != 3:
        raise ValueError(f"{subject.subject_id}: image must be (X, Y, Z), got shape {size_vox}")
    priority = dict(label_priority or {})
    unknown = sorted(set(priority) - set(subject.label_maps))
    if unknown:
        raise ValueError(f"{subject.subject_id}: label_priority names unknown label sets {unknown}")
    for name, label_map in subject.label_maps.items():
        if label_map.shape != size_vox:
            raise ValueError(
                f"{subject.subject_id}: label map {name!r} has shape {label_map.shape}, "
                f"the image {size_vox}"
            )
    geometry = radiograph_geometry(
        subject.affine,
        size_vox,
        pixel_spacing_mm=pixel_spacing_mm,
        source_to_detector_mm=source_to_detector_mm,
    )
    mu = hu_to_attenuation(subject.image, mu_water_per_mm=mu_water_per_mm)  # (X, Y, Z) 1/mm
    orders = {
        name: label_draw_order(label_map, priority.get(name))
        for name, label_map in subject.label_maps.items()
    }
    ranks = {name: orders[name].ranks(label_map) for name, label_map in subject.label_maps.items()}
    if not is_axis_aligned_ras(subject.affine):
        project = ray_cast_projection
    elif geometry.source_mm is None:
        project = parallel_projection
    else:
        project = cone_beam_projection
    integral, top_ranks = project(mu, ranks, subject.affine, geometry)
    image, white = line_integral_to_display(integral, white_level=white_level)
    return Radiograph(
        subject_id=subject.subject_id,
        image=image[None],  # (1, H, W)
        affine=geometry.affine,
        label_maps=_labels(orders, top_ranks),
        landmarks_px=_landmarks_px(subject.landmarks_mm, geometry),
        white_level=white,
        source_to_detector_mm=source_to_detector_mm,
    )


def _labels(
    orders: dict[str, LabelDrawOrder], top_ranks: dict[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """Highest ranks -> label values, `(H, W)` uint8 per set."""
    return {name: orders[name].labels(top_ranks[name]) for name in orders}


def _landmarks_px(
    landmarks_mm: Mapping[str, tuple[float, float, float]], geometry: RadiographGeometry
) -> dict[str, tuple[float, float]]:
    """World landmarks -> `(row, col)` pixel positions of their projections."""
    if not landmarks_mm:
        return {}
    names = list(landmarks_mm)
    pixels = geometry.world_to_pixel(np.array([landmarks_mm[name] for name in names]))  # (N, 2)
    return {name: (float(row), float(col)) for name, (row, col) in zip(names, pixels, strict=True)}
