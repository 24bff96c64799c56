from __future__ import annotations

import numpy as np
import pytest

from anatomy_ssl.phantoms import CT_LIKE_LABELS, make_ct_like_volume
from anatomy_ssl.phantoms.phantom_subject import PhantomSubject
from anatomy_ssl.phantoms.radiograph_projection import project_radiograph
from anatomy_ssl.phantoms.xray_attenuation import MU_WATER_PER_MM

BODY, LEFT_LUNG, RIGHT_LUNG, HEART, SPINE = (
    CT_LIKE_LABELS[name] for name in ("body", "left_lung", "right_lung", "heart", "spine")
)
#: Heart drawn last, so its whole shadow shows (by default the spine, value 5, covers part of it).
HEART_ON_TOP = {"level1": [BODY, LEFT_LUNG, RIGHT_LUNG, SPINE, HEART]}


def _centroid_mm(mask: np.ndarray, affine: np.ndarray) -> tuple[float, float, float]:
    voxel = np.argwhere(mask).mean(axis=0)
    x, y, z = affine[:3, :3] @ voxel + affine[:3, 3]
    return float(x), float(y), float(z)


def _torso(
    size: tuple[int, int, int] = (40, 36, 48), spacing: tuple[float, float, float] = (2.0, 2.5, 3.0)
) -> PhantomSubject:
    volume = make_ct_like_volume(size, spacing, seed=3)
    landmarks = {
        "heart_centroid": _centroid_mm(volume.label == HEART, volume.affine),
        "right_lung_centroid": _centroid_mm(volume.label == RIGHT_LUNG, volume.affine),
    }
    return PhantomSubject(
        "torso",
        volume.hu.astype(np.float32),
        volume.affine,
        {"level1": volume.label, "lungs": np.isin(volume.label, [2, 3]).astype(np.uint8)},
        landmarks,
    )


def _footprint(mask: np.ndarray) -> np.ndarray:
    """(X, Y, Z) mask -> its (rows, cols) shadow in display order (head up, Right on the left)."""
    return mask.any(axis=1)[::-1, ::-1].T


def test_uniform_slab_projects_to_thickness_times_attenuation() -> None:
    size, spacing = (10, 12, 14), (1.5, 2.5, 0.75)
    hu = np.full(size, -1000.0, dtype=np.float32)
    hu[2:8, 3:9, 4:12] = 500.0  # 6 voxels (15 mm) thick along A-P
    subject = PhantomSubject("slab", hu, np.diag([*spacing, 1.0]), {}, {})
    radiograph = project_radiograph(subject)
    depth = radiograph.image[0] * radiograph.white_level  # (Z, X) optical depth
    expected = np.zeros((14, 10))
    expected[14 - 12 : 14 - 4, 10 - 8 : 10 - 2] = 15.0 * MU_WATER_PER_MM * 1.5
    np.testing.assert_allclose(depth, expected, rtol=1e-5, atol=1e-9)
    assert radiograph.image.shape == (1, 14, 10) and radiograph.image.dtype == np.float32


def test_perspective_slab_is_longer_along_oblique_rays() -> None:
    size, spacing = (30, 10, 30), (2.0, 2.0, 2.0)
    hu = np.full(size, -1000.0, dtype=np.float32)
    hu[:, 2:5, :] = 0.0  # water, 6 mm thick, across the whole field of view
    subject = PhantomSubject("slab", hu, np.diag([*spacing, 1.0]), {}, {})
    radiograph = project_radiograph(subject, source_to_detector_mm=80.0, white_level=1.0)
    rows, cols = np.indices(radiograph.shape)
    plane = np.stack([rows, cols, np.ones_like(rows)], axis=-1) @ radiograph.affine.T  # (H, W, 3)
    # Source on the central ray (u, v) = (-29, -29) mm, 80 mm behind the detector.
    off_axis = np.hypot(plane[..., 0] + 29.0, plane[..., 1] + 29.0)
    expected = 6.0 * MU_WATER_PER_MM * np.sqrt(1.0 + (off_axis / 80.0) ** 2)
    # Rays that cross the slab inside the volume (the slab's shadow, magnified 80/66 at most).
    inside = off_axis < 30.0 * 80.0 / 76.0 - 2.0
    np.testing.assert_allclose(radiograph.image[0][inside], expected[inside], rtol=1e-5)


def test_a_single_voxel_lands_where_the_display_convention_says() -> None:
    size = (7, 5, 9)
    hu = np.full(size, -1000.0, dtype=np.float32)
    hu[1, 3, 7] = 0.0  # near the patient's Right (+x) and the head (+z)
    affine = np.diag([1.0, 1.0, 1.0, 1.0])
    point = (1.0, 3.0, 7.0)
    subject = PhantomSubject(
        "dot", hu, affine, {"dot": (hu > -1000).astype(np.uint8)}, {"p": point}
    )
    radiograph = project_radiograph(subject)
    assert np.argwhere(radiograph.image[0] > 0).tolist() == [[9 - 1 - 7, 7 - 1 - 1]]
    assert np.argwhere(radiograph.label_maps["dot"]).tolist() == [[1, 5]]
    np.testing.assert_allclose(radiograph.landmarks_px["p"], (1.0, 5.0))  # top left quadrant


def test_lungs_are_darker_than_heart_and_spine() -> None:
    radiograph = project_radiograph(_torso(), label_priority=HEART_ON_TOP)
    image, labels = radiograph.image[0], radiograph.label_maps["level1"]
    lungs = image[np.isin(labels, [LEFT_LUNG, RIGHT_LUNG])].mean()
    assert lungs < image[labels == HEART].mean()
    assert lungs < image[labels == SPINE].mean()
    assert image[labels == 0].max() < 0.05  # air around the body stays black


def test_right_lung_on_the_viewers_left_and_lungs_above_the_middle() -> None:
    radiograph = project_radiograph(_torso())
    labels = radiograph.label_maps["level1"]
    width = labels.shape[1]
    right_rows, right_cols = np.nonzero(labels == RIGHT_LUNG)
    _, left_cols = np.nonzero(labels == LEFT_LUNG)
    assert right_cols.max() < width / 2 < left_cols.min()
    assert right_rows.mean() < labels.shape[0] / 2  # lungs sit superior in this torso


@pytest.mark.parametrize("priority", [None, HEART_ON_TOP])
def test_projected_labels_are_the_footprints_minus_what_is_drawn_on_top(
    priority: dict[str, list[int]] | None,
) -> None:
    subject = _torso()
    radiograph = project_radiograph(subject, label_priority=priority)
    label = subject.label_maps["level1"]
    order = [1, 2, 3, 4, 5] if priority is None else priority["level1"]
    covered = np.zeros(radiograph.shape, dtype=bool)
    for value in reversed(order):  # top first
        footprint = _footprint(label == value)
        np.testing.assert_array_equal(
            radiograph.label_maps["level1"] == value, footprint & ~covered
        )
        covered |= footprint
    np.testing.assert_array_equal(radiograph.label_maps["level1"] == 0, ~covered)
    lungs = _footprint(np.isin(label, [LEFT_LUNG, RIGHT_LUNG]))  # a set of its own
    np.testing.assert_array_equal(radiograph.label_maps["lungs"], lungs)


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"pixel_spacing_mm": 1.2}, {"source_to_detector_mm": 400.0}],
    ids=["parallel", "resampled", "perspective"],
)
def test_landmarks_fall_inside_their_projected_structures(kwargs: dict[str, float]) -> None:
    radiograph = project_radiograph(_torso(), label_priority=HEART_ON_TOP, **kwargs)
    labels = radiograph.label_maps["level1"]
    for name, value in (("heart_centroid", HEART), ("right_lung_centroid", RIGHT_LUNG)):
        row, col = np.rint(radiograph.landmarks_px[name]).astype(int)
        assert labels[row, col] == value, name


@pytest.mark.parametrize("kwargs", [{}, {"pixel_spacing_mm": 1.2}], ids=["native", "resampled"])
def test_affine_maps_landmark_pixels_back_to_their_x_and_z(kwargs: dict[str, float]) -> None:
    subject = _torso()
    radiograph = project_radiograph(subject, **kwargs)
    for name, (x, _, z) in subject.landmarks_mm.items():
        row, col = radiograph.landmarks_px[name]
        u, v, one = radiograph.affine @ np.array([row, col, 1.0])
        np.testing.assert_allclose([u, v, one], [-x, -z, 1.0], atol=1e-9)
        np.testing.assert_allclose(radiograph.landmarks_mm()[name], (-x, -z), atol=1e-9)


def test_resampling_gives_square_pixels_over_the_same_field_of_view() -> None:
    subject = _torso()
    native = project_radiograph(subject)
    resampled = project_radiograph(subject, pixel_spacing_mm=1.0)
    assert resampled.shape == (48 * 3, 40 * 2)
    assert (resampled.affine[0, 1], resampled.affine[1, 0]) == (1.0, 1.0)
    assert resampled.label_maps["level1"].shape == resampled.shape
    assert abs(resampled.image.mean() - native.image.mean()) < 0.01


def test_any_affine_gives_the_same_radiograph_as_its_ras_equivalent() -> None:
    subject = _torso()
    # The same subject stored with i and j reversed (voxel axes towards Left and Posterior).
    flip = np.diag([-1.0, -1.0, 1.0, 1.0])
    flip[:2, 3] = [subject.image.shape[0] - 1, subject.image.shape[1] - 1]
    flipped = PhantomSubject(
        "flipped",
        subject.image[::-1, ::-1].copy(),
        subject.affine @ flip,
        {name: label[::-1, ::-1].copy() for name, label in subject.label_maps.items()},
        subject.landmarks_mm,
    )
    expected, result = project_radiograph(subject), project_radiograph(flipped)
    np.testing.assert_allclose(result.affine, expected.affine, atol=1e-9)
    np.testing.assert_allclose(result.image, expected.image, atol=1e-5)
    np.testing.assert_array_equal(result.label_maps["level1"], expected.label_maps["level1"])
    for name, pixel in expected.landmarks_px.items():
        np.testing.assert_allclose(result.landmarks_px[name], pixel, atol=1e-9)


def test_an_oblique_volume_still_puts_landmarks_in_their_structures() -> None:
    subject = _torso()
    angle = np.deg2rad(12.0)  # about z: voxel columns are no longer parallel to the beam
    rotation = np.eye(4)
    rotation[:2, :2] = [[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]
    affine = rotation @ subject.affine
    landmarks = {
        name: tuple(float(c) for c in (rotation[:3, :3] @ np.asarray(point)))
        for name, point in subject.landmarks_mm.items()
    }
    oblique = PhantomSubject("oblique", subject.image, affine, subject.label_maps, landmarks)
    radiograph = project_radiograph(oblique, label_priority=HEART_ON_TOP)
    row, col = np.rint(radiograph.landmarks_px["heart_centroid"]).astype(int)
    assert radiograph.label_maps["level1"][row, col] == HEART


def test_bad_inputs_are_refused() -> None:
    subject = _torso()
    with pytest.raises(ValueError, match="unknown label sets"):
        project_radiograph(subject, label_priority={"level9": [1]})
    broken = PhantomSubject(
        "b", subject.image, subject.affine, {"x": np.zeros((2, 2, 2), np.uint8)}, {}
    )
    with pytest.raises(ValueError, match="label map 'x'"):
        project_radiograph(broken)


@pytest.mark.parametrize("kwargs", [{}, {"source_to_detector_mm": 1800.0}], ids=["par", "cone"])
def test_the_anatomical_ct_phantom_looks_like_a_chest_film(kwargs: dict[str, float]) -> None:
    from anatomy_ssl.phantoms.ct_phantom import make_ct_phantom_subject
    from anatomy_ssl.phantoms.torso_hierarchy import ORGAN_ID

    subject = make_ct_phantom_subject(0, seed=1, preset="small")
    spine_on_top = {"level1": [ORGAN_ID["spine"]]}
    radiograph = project_radiograph(subject, label_priority=spine_on_top, **kwargs)
    image, organs = radiograph.image[0], radiograph.label_maps["level1"]
    assert set(radiograph.label_maps) == set(subject.label_maps)
    assert image.min() >= 0.0 and image.max() == 1.0
    lungs = np.isin(organs, [ORGAN_ID["right_lung"], ORGAN_ID["left_lung"]])
    assert image[lungs].mean() < image[organs == ORGAN_ID["spine"]].mean()
    _, right_cols = np.nonzero(organs == ORGAN_ID["right_lung"])
    _, left_cols = np.nonzero(organs == ORGAN_ID["left_lung"])
    assert right_cols.mean() < left_cols.mean()
    rows = []
    for name in ("vertebra_T2_centre", "vertebra_T8_centre", "vertebra_L4_centre"):
        row, col = np.rint(radiograph.landmarks_px[name]).astype(int)
        # Within a pixel: vertebrae are a voxel or two wide at this coarse preset.
        assert (organs[row - 1 : row + 2, col - 1 : col + 2] == ORGAN_ID["spine"]).any(), name
        rows.append(row)
    assert rows == sorted(rows)  # T2 above T8 above L4
