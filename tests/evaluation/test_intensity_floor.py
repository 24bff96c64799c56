import numpy as np
import pytest

from anatomy_ssl.evaluation.few_shot_subsets import few_shot_subsets
from anatomy_ssl.evaluation.intensity_floor import (
    IntensityLookup,
    intensity_floor_dice,
    intensity_floor_runs,
)
from anatomy_ssl.preprocess import CachedVolume
from anatomy_ssl.preprocess.cache_entry import write_entry

SHAPE = (10, 12, 14)


def _volume(root, subject_id, image, label):
    meta = {
        "key": subject_id,
        "subject_id": subject_id,
        "affine": np.eye(4).tolist(),
        "spacing_mm": [1.0, 1.0, 1.0],
        "size_vox": list(image.shape),
        "background_value": 0.0,
        "label_values": np.unique(label).tolist(),
    }
    folder = root / "entries" / subject_id
    assert write_entry(
        folder,
        root / ".staging",
        image=image[None].astype(np.float32),
        label=label[None].astype(np.uint8),
        meta=meta,
    )
    return CachedVolume(folder)


def _boxes(seed):
    """Label 1 bright, label 2 dark-ish, label 3 with label 2's intensity (only shape tells)."""
    rng = np.random.default_rng(seed)
    label = np.zeros(SHAPE, np.uint8)
    label[1:5, 1:6, 1:7] = 1
    label[6:9, 2:10, 2:6] = 2
    label[6:9, 2:10, 8:12] = 3
    image = np.array([0.0, 1.0, 0.5, 0.5], np.float32)[label] + rng.normal(0, 0.02, SHAPE)
    return image, label


@pytest.fixture(scope="module")
def volumes(tmp_path_factory):
    root = tmp_path_factory.mktemp("floor")
    return [_volume(root, f"s{i}", *_boxes(i)) for i in range(4)]


def test_the_lookup_is_the_majority_label_of_each_intensity_bin(volumes):
    lookup = IntensityLookup(volumes[:1], num_classes=4, bins=8)
    image, label = volumes[0].load_image()[0], volumes[0].load_label()[0]
    # oracle: per bin, count labels with a plain loop over the bins
    bins = np.clip(np.digitize(image, lookup.edges[1:-1]), 0, 7)
    for b in range(8):
        inside = label[bins == b]
        expected = np.bincount(inside, minlength=4).argmax() if inside.size else 0
        assert lookup.labels[b] == expected


def test_intensity_alone_segments_distinct_intensities_and_fails_on_look_alikes(volumes):
    dice = intensity_floor_dice(volumes[:2], volumes[2:], num_classes=4)  # (V, 3)
    assert dice.shape == (2, 3)
    assert np.all(dice[:, 0] > 0.95)  # label 1 has an intensity of its own
    # labels 2 and 3 look alike: together they cannot both be found
    assert np.all(dice[:, 1] + dice[:, 2] < 1.5)


def test_values_outside_the_fitted_range_clamp_to_the_end_bins(volumes):
    lookup = IntensityLookup(volumes[:1], num_classes=4)
    image = np.array([[[[-5.0, 5.0]]]], np.float32)  # (1, 1, 1, 2)
    assert lookup.predict(image).tolist() == [[[0, 1]]]


def test_runs_fit_on_the_seeds_few_shot_subsets(volumes):
    runs = intensity_floor_runs(
        volumes[:3], volumes[3:], k_values=[1, 2], seeds=[0, 1], num_classes=4
    )
    assert [(k, seed) for k, seed, *_ in runs] == [(1, 0), (2, 0), (1, 1), (2, 1)]
    for k, seed, subjects, dice, _ in runs:
        assert subjects == few_shot_subsets(["s0", "s1", "s2"], [k], seed=seed)[k]
        assert dice.shape == (1, 3)


def test_the_floor_runs_again_for_a_new_mode_and_not_otherwise(phantom_eval_data, tmp_path):
    from anatomy_ssl.evaluation.intensity_floor_evaluation import evaluate_intensity_floor
    from anatomy_ssl.preprocess import PreprocessSpec

    spec = PreprocessSpec(target_spacing_mm=(6.0, 6.0, 6.0), intensity="ct", foreground_crop=True)
    grid = {"test_split": "val", "k": [1], "seeds": [0, 1]}
    common = {"spec": spec, "cache_dir": tmp_path / "cache", "progress": False}
    first = evaluate_intensity_floor(
        phantom_eval_data.root, tmp_path, settings={**grid, "modes": ["finetune"]}, **common
    )
    assert len(first) == 2 and "knn_k1_dice" not in first[0].metrics
    same = evaluate_intensity_floor(
        phantom_eval_data.root, tmp_path, settings={**grid, "modes": ["finetune"]}, **common
    )
    assert same == []
    grown = evaluate_intensity_floor(
        phantom_eval_data.root, tmp_path, settings={**grid, "modes": ["finetune", "knn"]}, **common
    )
    assert grown[0].metrics["knn_k1_dice"] == grown[0].metrics["finetune_k1_dice"]
