"""Template landmarks: inside the brain, on the tissue they are said to be on, mirror-symmetric."""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from anatomy_ssl.phantoms.icbm152_landmarks import (
    MNI_LANDMARKS,
    icbm152_landmarks_mm,
    landmark_tissues,
)
from anatomy_ssl.phantoms.icbm152_template import TISSUE_LABELS, load_icbm152_template


def test_every_landmark_lies_well_inside_the_brain_mask() -> None:
    resolution_mm = 3.0
    template = load_icbm152_template(resolution_mm)
    depth_mm = ndi.distance_transform_edt(template.brain_mask, sampling=template.spacing_mm)
    landmarks = icbm152_landmarks_mm(resolution_mm)
    assert set(landmarks) == set(landmark_tissues())
    for name, point in landmarks.items():
        voxel = tuple(np.round(template.world_to_voxel(np.asarray([point]))[0]).astype(int))
        assert depth_mm[voxel] > 10.0, name


def test_hand_picked_points_are_on_their_tissue_at_1mm() -> None:
    template = load_icbm152_template(1.0)
    for name, (point, tissue) in MNI_LANDMARKS.items():
        voxel = tuple(np.round(template.world_to_voxel(np.asarray([point]))[0]).astype(int))
        assert template.tissue[voxel] == TISSUE_LABELS[tissue], name


def test_centroids_mirror_across_the_midline() -> None:
    landmarks = icbm152_landmarks_mm(1.0)
    for tissue in ("grey_matter", "white_matter"):
        left = np.asarray(landmarks[f"left_{tissue}_centroid"])
        right = np.asarray(landmarks[f"right_{tissue}_centroid"])
        assert left[0] < -20.0 < 20.0 < right[0]
        np.testing.assert_allclose(left * [-1, 1, 1], right, atol=1e-6)
