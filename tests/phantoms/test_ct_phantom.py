import functools
import itertools

import numpy as np
import pytest

from anatomy_ssl.phantoms.ct_phantom import (
    LAA_THRESHOLD_HU,
    make_ct_phantom_subject,
    subject_grid,
)
from anatomy_ssl.phantoms.phantom_dataset_writer import generate_subjects
from anatomy_ssl.phantoms.torso_geometry import TemplateWindow, TorsoShapes, paint_parts
from anatomy_ssl.phantoms.torso_hierarchy import (
    DISCS,
    LOBES,
    ORGAN_ID,
    PART_ID,
    PART_TO_ORGAN_LUT,
    PARTS,
    VERTEBRAE,
)
from anatomy_ssl.phantoms.torso_landmarks import LANDMARK_STRUCTURES
from anatomy_ssl.phantoms.torso_parameters import sample_torso_parameters


@pytest.fixture(scope="module")
def subjects():
    return [make_ct_phantom_subject(i, seed=5, preset="small") for i in range(4)]


def test_deterministic_and_independent_of_n(subjects):
    again = make_ct_phantom_subject(2, seed=5, preset="small")
    assert np.array_equal(again.image, subjects[2].image)
    assert np.array_equal(again.label_maps["level2"], subjects[2].label_maps["level2"])
    assert again.landmarks_mm == subjects[2].landmarks_mm
    assert again.clinical == subjects[2].clinical
    factory = functools.partial(make_ct_phantom_subject, seed=5, preset="small")
    from_batch = list(generate_subjects(factory, 3, workers=2, progress=False))[2]
    assert np.array_equal(from_batch.image, subjects[2].image)
    other_seed = make_ct_phantom_subject(2, seed=6, preset="small")
    assert not np.array_equal(other_seed.image, subjects[2].image)


def test_hierarchy_parts_in_organs_organs_in_body(subjects):
    for subject in subjects:
        level0, level1, level2 = (subject.label_maps[f"level{i}"] for i in range(3))
        assert np.array_equal(level1, PART_TO_ORGAN_LUT[level2])  # every part inside its organ
        assert np.all(level0[level1 > 0] == 1)  # every organ inside the body
        assert level0.dtype == level1.dtype == level2.dtype == np.uint8


def test_every_part_exists_in_every_subject(subjects):
    expected = set(range(len(PARTS) + 1))
    for subject in subjects:
        assert set(np.unique(subject.label_maps["level2"]).tolist()) == expected


def _touching(labels: np.ndarray, a: int, b: int) -> bool:
    """Do labels a and b share a face (6-neighbourhood)?"""
    for axis in range(3):
        first = np.take(labels, range(labels.shape[axis] - 1), axis=axis)
        second = np.take(labels, range(1, labels.shape[axis]), axis=axis)
        if np.any((first == a) & (second == b)) or np.any((first == b) & (second == a)):
            return True
    return False


def test_adjacency_of_repeated_structures_is_fixed(subjects):
    for subject in subjects:
        parts = subject.label_maps["level2"]
        for level, (upper, lower) in enumerate(itertools.pairwise(VERTEBRAE)):
            disc = PART_ID[f"disc_{DISCS[level]}"]
            assert _touching(parts, PART_ID[f"vertebra_{upper}"], disc)
            assert _touching(parts, disc, PART_ID[f"vertebra_{lower}"])
        assert not _touching(parts, PART_ID["vertebra_T1"], PART_ID["vertebra_T3"])
        assert _touching(parts, PART_ID["right_upper_lobe"], PART_ID["right_lower_lobe"])
        assert not _touching(parts, PART_ID["right_upper_lobe"], PART_ID["left_upper_lobe"])


def test_subjects_really_differ(subjects):
    organs = [s.label_maps["level1"] for s in subjects]
    for name in ("liver", "heart", "right_lung"):
        value = ORGAN_ID[name]
        a, b = organs[0] == value, organs[1] == value
        dice = 2 * (a & b).sum() / (a.sum() + b.sum())
        assert dice < 0.95, name
        volumes = [
            np.prod(s.spacing_mm) * (o == value).sum()
            for s, o in zip(subjects, organs, strict=True)
        ]
        assert np.std(volumes) / np.mean(volumes) > 0.02, name
    assert len({s.spacing_mm for s in subjects}) == len(subjects)


def test_landmarks_lie_in_their_structures(subjects):
    for subject in subjects:
        assert set(subject.landmarks_mm) == set(LANDMARK_STRUCTURES)
        for name, (level, structure) in LANDMARK_STRUCTURES.items():
            ids = PART_ID if level == 2 else ORGAN_ID
            labels = subject.label_maps[f"level{level}"]
            voxel = np.rint(subject.world_to_voxel(subject.landmarks_mm[name])).astype(int)
            low, high = np.maximum(voxel - 1, 0), voxel + 2  # "in or on": within one voxel
            neighbourhood = labels[low[0] : high[0], low[1] : high[1], low[2] : high[2]]
            assert ids[structure] in neighbourhood, (subject.subject_id, name)


def test_ct_values_are_plausible(subjects):
    subject = subjects[0]
    image, parts = subject.image, subject.label_maps["level2"]
    median = lambda name: float(np.median(image[parts == PART_ID[name]]))  # noqa: E731
    assert np.median(image[subject.label_maps["level0"] == 0]) < -900  # air
    assert -950 < median("right_lower_lobe") < -700  # lung parenchyma
    assert 20 < median("liver") < 100
    assert median("vertebra_T8") > 150  # bone
    assert median("trachea") < -300  # airway lumen, partial volume with its wall at ~9 mm voxels


def test_percent_emphysema_matches_the_voxels(subjects):
    for subject in subjects:
        parts, image = subject.label_maps["level2"], subject.image
        total = low = 0
        for lobe in LOBES:
            in_lobe = parts == PART_ID[lobe]
            measured = 100 * (image[in_lobe] < LAA_THRESHOLD_HU).mean()
            assert subject.clinical[f"percent_emphysema_{lobe}"] == pytest.approx(
                measured, abs=1e-3
            )
            total, low = total + in_lobe.sum(), low + (image[in_lobe] < LAA_THRESHOLD_HU).sum()
        assert subject.clinical["percent_emphysema"] == pytest.approx(100 * low / total, abs=1e-3)


def test_windowed_painting_equals_full_evaluation():
    params = sample_torso_parameters(3, 1, "small")
    affine = subject_grid(params, (40, 40, 56))
    axes = [
        affine[a, a] * np.arange(n, dtype=np.float32) + affine[a, 3]
        for a, n in enumerate((40, 40, 56))
    ]
    world = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1)
    template = world / params.scale.astype(np.float32) + params.displacement(world)
    p = (template[..., 0], template[..., 1], template[..., 2])
    shapes = TorsoShapes.for_subject(params)
    margin = float(np.abs(params.displacement.amplitudes_mm).sum(axis=1).max())
    tight = paint_parts(p, shapes, TemplateWindow(tuple(axes), params.scale, margin))[0]
    everywhere = paint_parts(p, shapes, TemplateWindow(tuple(axes), params.scale, 1e6))[0]
    assert np.array_equal(tight, everywhere)
