"""Named landmarks on the ICBM152 template: tissue centroids per hemisphere and MNI points.

Hand-picked points are MNI (ICBM152 2009 symmetric) coordinates in RAS mm, chosen on this
template: each lies at least a few millimetres inside the brain mask, and the tissue listed for it
is the template's tissue label there at 1 mm (tests check both). Coordinates of deep structures
are approximate centres, not expert annotations.
"""

from __future__ import annotations

import functools

import numpy as np

from anatomy_ssl.phantoms.icbm152_template import TISSUE_LABELS, load_icbm152_template

#: Hand-picked landmark -> (MNI RAS mm, tissue class of the template at that point).
MNI_LANDMARKS: dict[str, tuple[tuple[float, float, float], str]] = {
    "anterior_commissure": ((0.0, 3.0, -5.0), "white_matter"),
    "corpus_callosum_genu": ((0.0, 28.0, 8.0), "white_matter"),
    "corpus_callosum_splenium": ((0.0, -38.0, 10.0), "white_matter"),
    "left_thalamus": ((-11.0, -18.0, 7.0), "grey_matter"),
    "right_thalamus": ((11.0, -18.0, 7.0), "grey_matter"),
    "left_putamen": ((-25.0, 2.0, 1.0), "grey_matter"),
    "right_putamen": ((25.0, 2.0, 1.0), "grey_matter"),
    "left_caudate_head": ((-13.0, 12.0, 9.0), "grey_matter"),
    "right_caudate_head": ((13.0, 12.0, 9.0), "grey_matter"),
    "left_hippocampus": ((-27.0, -22.0, -13.0), "grey_matter"),
    "right_hippocampus": ((27.0, -22.0, -13.0), "grey_matter"),
    "left_lateral_ventricle": ((-6.0, -1.0, 19.0), "csf_other"),
    "right_lateral_ventricle": ((6.0, -1.0, 19.0), "csf_other"),
    "fourth_ventricle": ((0.0, -44.0, -31.0), "csf_other"),
    "pons": ((0.0, -27.0, -33.0), "grey_matter"),
    "left_cerebellum": ((-25.0, -65.0, -35.0), "grey_matter"),
    "right_cerebellum": ((25.0, -65.0, -35.0), "grey_matter"),
}

#: Tissue classes whose centroid is taken in each hemisphere (RAS x < 0 is left).
CENTROID_TISSUES: tuple[str, ...] = ("grey_matter", "white_matter")


def landmark_tissues() -> dict[str, str]:
    """Landmark name -> the tissue class it belongs to (centroids: the class averaged)."""
    tissues = {
        f"{side}_{tissue}_centroid": tissue
        for tissue in CENTROID_TISSUES
        for side in ("left", "right")
    }
    tissues.update({name: tissue for name, (_, tissue) in MNI_LANDMARKS.items()})
    return tissues


@functools.lru_cache(maxsize=4)
def icbm152_landmarks_mm(resolution_mm: float = 2.0) -> dict[str, tuple[float, float, float]]:
    """Landmarks of the template at a resolution, in RAS mm.

    Centroids ("left_white_matter_centroid", ...) are means of the voxel centres of a tissue
    class of the tissue map at `resolution_mm`, per hemisphere (midline voxels excluded); the
    hand-picked points (`MNI_LANDMARKS`) are the same at every resolution.

    Args:
        resolution_mm: the template grid the centroids are computed on.

    Returns:
        Landmark name -> (x, y, z) RAS mm, centroids first.
    """
    template = load_icbm152_template(resolution_mm)
    landmarks: dict[str, tuple[float, float, float]] = {}
    for tissue in CENTROID_TISSUES:
        world = template.voxel_to_world(np.argwhere(template.tissue == TISSUE_LABELS[tissue]))
        x = world[:, 0]  # (N,) RAS mm
        for side, in_side in (("left", x < 0.0), ("right", x > 0.0)):
            landmarks[f"{side}_{tissue}_centroid"] = _point(world[in_side].mean(axis=0))
    for name, (point, _) in MNI_LANDMARKS.items():
        landmarks[name] = point
    return landmarks


def _point(values: np.ndarray) -> tuple[float, float, float]:
    return float(values[0]), float(values[1]), float(values[2])
