"""Named landmarks of the torso in template space, each placed inside a known structure."""

from __future__ import annotations

import numpy as np

from anatomy_ssl.phantoms.torso_geometry import (
    CARINA_Z,
    SPINE_AXIS,
    TRACHEA_AXIS,
    TorsoShapes,
    vertebra_centre_z,
)
from anatomy_ssl.phantoms.torso_hierarchy import VERTEBRAE

#: Landmark -> (level, structure name) that contains it (checked by the tests).
LANDMARK_STRUCTURES: dict[str, tuple[int, str]] = {
    "carina": (2, "trachea"),
    "right_lung_apex": (2, "right_upper_lobe"),
    "left_lung_apex": (2, "left_upper_lobe"),
    "heart_apex": (1, "heart"),
    "aortic_arch_top": (2, "aorta"),
    "liver_dome": (2, "liver"),
    "right_kidney_hilum": (1, "right_kidney"),
    "left_kidney_hilum": (1, "left_kidney"),
    **{f"vertebra_{name}_centre": (2, f"vertebra_{name}") for name in VERTEBRAE},
}


def template_landmarks(shapes: TorsoShapes) -> dict[str, np.ndarray]:
    """Landmark -> `(3,)` template point (mm), a few mm inside its structure."""
    points = {
        "carina": np.array([*TRACHEA_AXIS, CARINA_Z + 6.0]),
        "heart_apex": shapes.heart_centre + shapes.heart_radii * np.array([-0.55, 0.35, -0.45]),
        "aortic_arch_top": shapes.aorta_path[2],
        "liver_dome": np.array(
            [
                shapes.liver_centre[0],
                shapes.liver_centre[1] - 10.0,
                min(
                    shapes.dome_z(
                        "right", np.array(shapes.liver_centre[0]), np.array(shapes.liver_centre[1])
                    ).item(),
                    shapes.liver_centre[2] + shapes.liver_radii[2],
                )
                - 12.0,
            ]
        ),
    }
    for side, sign in (("right", 1.0), ("left", -1.0)):
        centre = shapes.lung_centres[side]
        points[f"{side}_lung_apex"] = centre + np.array([0.0, 0.0, shapes.lung_radii[2] - 14.0])
        kidney = shapes.kidney_centres[side]
        points[f"{side}_kidney_hilum"] = kidney - np.array(
            [sign * 0.5 * shapes.kidney_radii[0], 0.0, 0.0]
        )
    for level, name in enumerate(VERTEBRAE):
        points[f"vertebra_{name}_centre"] = np.array([*SPINE_AXIS, vertebra_centre_z(level)])
    return points
