import json
import math

import numpy as np
import pytest
import torch

from anatomy_ssl.evaluation.evaluation_record import EvaluationRecord, read_record, write_record
from anatomy_ssl.evaluation.few_shot_segmentation import (
    PROTOCOL,
    FewShotRecord,
    compare_few_shot,
    few_shot_outcomes,
    few_shot_records_from_evaluation,
    infer_num_classes,
    label_efficiency_curve,
    run_few_shot_segmentation,
    summarize_few_shot,
)
from anatomy_ssl.evaluation.few_shot_subsets import few_shot_subsets
from anatomy_ssl.models import create_encoder
from anatomy_ssl.preprocess import CachedVolume
from anatomy_ssl.preprocess.cache_entry import write_entry

SHAPE = (16, 12, 18)


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny convolutions: more threads only add waiting
    yield
    torch.set_num_threads(threads)


def _subject(root, subject_id, seed, *, small_structure=True):
    """Two boxes (labels 1, 2) and optionally a small one (label 3), jittered per subject."""
    rng = np.random.default_rng(seed)
    label = np.zeros(SHAPE, dtype=np.uint8)
    shift = rng.integers(0, 3, size=3)
    label[tuple(slice(1 + s, 7 + s) for s in shift)] = 1
    label[(*(slice(8 + s // 2, 13 + s // 2) for s in shift[:2]), slice(2, 9))] = 2
    if small_structure:
        label[9:12, 2:5, 12:15] = 3
    image = np.array([0.0, 1.0, 0.5, 0.75], np.float32)[label] + rng.normal(0, 0.05, SHAPE)
    meta = {
        "key": subject_id,
        "subject_id": subject_id,
        "affine": np.eye(4).tolist(),
        "spacing_mm": [1.0, 1.0, 1.0],
        "size_vox": list(SHAPE),
        "background_value": 0.0,
        "label_values": np.unique(label).tolist(),
    }
    folder = root / "entries" / subject_id
    assert write_entry(
        folder,
        root / ".staging",
        image=image[None].astype(np.float32),
        label=label[None],
        meta=meta,
    )
    return CachedVolume(folder)


@pytest.fixture(scope="module")
def subjects(tmp_path_factory):
    root = tmp_path_factory.mktemp("few-shot")
    train = [_subject(root, f"train{i}", i) for i in range(4)]
    test = [_subject(root, "test0", 10), _subject(root, "test1", 11, small_structure=False)]
    return train, test


@pytest.fixture(scope="module")
def grid(subjects):
    train, test = subjects
    encoder = create_encoder("test_resunet", spatial_dims=3, in_channels=1)
    before = {k: v.clone() for k, v in encoder.state_dict().items()}
    seen = []
    with pytest.warns(UserWarning, match="k=10 skipped"):
        records = run_few_shot_segmentation(
            encoder,
            train,
            test,
            k_values=[1, 2, "all", 10],
            seeds=[0, 1],
            modes=["finetune", "frozen"],
            steps=2,
            crop_size_vox=8,
            window_vox=16,
            lr=1e-2,
            progress=False,
            on_run=lambda record, trained: seen.append((record, trained.mode, trained.losses)),
        )
    assert [entry[0] for entry in seen] == records
    assert all(mode == record.mode and len(losses) == 2 for record, mode, losses in seen)
    for key, value in encoder.state_dict().items():
        assert torch.equal(value, before[key])  # every run trained its own copy
    return records


def test_grid_runs_every_k_seed_and_mode_on_the_seed_subsets(grid, subjects):
    train, _ = subjects
    assert [(r.k, r.seed, r.mode) for r in grid] == [
        (k, seed, mode) for k in (1, 2, 4) for seed in (0, 1) for mode in ("finetune", "frozen")
    ]
    ids = [v.subject_id for v in train]
    for record in grid:
        assert (
            record.train_subjects == few_shot_subsets(ids, [record.k], seed=record.seed)[record.k]
        )
        assert record.test_subjects == ("test0", "test1") and record.steps == 2
        assert record.structure_labels == (1, 2, 3) and record.train_seconds >= 0


def test_structures_absent_from_a_test_volume_are_left_out_of_means(grid):
    for record in grid:
        assert record.dice_per_volume.shape == (2, 3) and record.dice.shape == (3,)
        assert math.isnan(record.dice_per_volume[1, 2])  # test1 has no structure 3
        assert np.isfinite(record.dice_per_volume[0]).all()
        np.testing.assert_allclose(record.dice[:2], record.dice_per_volume[:, :2].mean(axis=0))
        assert record.dice[2] == record.dice_per_volume[0, 2]
        assert record.mean_dice == pytest.approx(record.dice.mean())


def test_summary_and_label_efficiency_curve(grid):
    summaries = summarize_few_shot(grid, num_resamples=200)
    assert [(s.mode, s.k) for s in summaries] == [
        (mode, k) for mode in ("finetune", "frozen") for k in (1, 2, 4)
    ]
    for summary in summaries:
        runs = [r for r in grid if (r.mode, r.k) == (summary.mode, summary.k)]
        assert summary.num_runs == 2
        assert summary.mean_dice == pytest.approx(np.mean([r.mean_dice for r in runs]))
        assert summary.ci_low <= summary.mean_dice <= summary.ci_high
        np.testing.assert_allclose(summary.dice, np.mean([r.dice for r in runs], axis=0))
        json.dumps(summary.to_dict(), allow_nan=False)
    curve = label_efficiency_curve(summaries, mode="frozen")
    np.testing.assert_array_equal(curve.k, [1, 2, 4])
    np.testing.assert_allclose(curve.mean_dice, [s.mean_dice for s in summaries[3:]])


def test_records_round_trip_through_json_and_evaluation_records(grid, tmp_path):
    record = grid[0]
    text = json.dumps(record.to_dict(), allow_nan=False)  # NaN written as null
    back = FewShotRecord.from_dict(json.loads(text))
    np.testing.assert_array_equal(back.dice_per_volume, record.dice_per_volume)
    assert (back.k, back.seed, back.mode, back.train_subjects) == (
        record.k,
        record.seed,
        record.mode,
        record.train_subjects,
    )
    outcomes = few_shot_outcomes(grid)
    assert [outcome["seed"] for outcome in outcomes] == [0, 1]
    assert outcomes[0]["metrics"]["frozen_k2_dice"] == pytest.approx(
        next(r.mean_dice for r in grid if (r.mode, r.k, r.seed) == ("frozen", 2, 0))
    )
    assert outcomes[1]["metrics"]["finetune_k4_dice_label3"] == pytest.approx(grid[-2].dice[2])
    volume_means = outcomes[0]["samples"]["finetune_k1_dice"]
    np.testing.assert_allclose(volume_means, np.nanmean(grid[0].dice_per_volume, axis=1))
    packed = [
        EvaluationRecord(method="scratch", dataset="boxes", protocol=PROTOCOL, **outcome)
        for outcome in outcomes
    ]
    restored = few_shot_records_from_evaluation(
        [read_record(write_record(p, tmp_path)) for p in packed]
    )
    assert len(restored) == len(grid)
    restored.sort(key=lambda r: (r.k, r.seed, r.mode))  # packed seed by seed
    for original, again in zip(grid, restored, strict=True):
        assert (original.k, original.seed, original.mode) == (again.k, again.seed, again.mode)
        np.testing.assert_array_equal(original.dice_per_volume, again.dice_per_volume)


def test_compare_pairs_runs_by_seed_and_test_volume(grid):
    same = compare_few_shot(grid, grid, mode="finetune", k=2)
    assert same.n == 4 and same.mean_difference == 0.0 and same.p_value == 1.0
    shifted = [
        FewShotRecord(**{**vars(r), "dice_per_volume": r.dice_per_volume - 0.1}) for r in grid
    ]
    gain = compare_few_shot(grid, shifted, mode="finetune", k=2)
    assert gain.mean_difference == pytest.approx(0.1)
    with pytest.raises(ValueError, match="no paired"):
        compare_few_shot(grid, grid, mode="finetune", k=3)


def test_grid_rejects_leakage_and_bad_modes(subjects):
    train, test = subjects
    encoder = create_encoder("test_resunet", spatial_dims=3, in_channels=1)
    common = dict(k_values=[1], seeds=[0], steps=0, crop_size_vox=8, progress=False)
    with pytest.raises(ValueError, match="both the training pool and the test set"):
        run_few_shot_segmentation(encoder, train, [train[0]], **common)
    with pytest.raises(ValueError, match="unknown mode"):
        run_few_shot_segmentation(encoder, train, test, modes=["linear"], **common)
    with pytest.raises(ValueError, match="no k"), pytest.warns(UserWarning, match="k=9"):
        run_few_shot_segmentation(encoder, train, test, **{**common, "k_values": [9]})


def test_on_the_phantom_cache(phantom_eval_data):
    volumes = phantom_eval_data.volumes
    assert infer_num_classes(volumes) == 14
    encoder = create_encoder("test_resunet", spatial_dims=3, in_channels=1, first_stride=2)
    (record,) = run_few_shot_segmentation(
        encoder,
        volumes[:4],
        volumes[4:5],
        k_values=[1],
        seeds=[0],
        modes=["frozen"],
        steps=1,
        crop_size_vox=16,
        window_vox=48,
        progress=False,
    )
    assert record.structure_labels == tuple(range(1, 14)) and record.dice.shape == (13,)
    assert len(record.train_subjects) == 1 and record.test_subjects == ("phantom_0004",)
    assert np.isfinite(record.dice).all() and 0.0 <= record.mean_dice <= 1.0


def test_runs_in_worker_processes_come_back_in_grid_order_with_the_same_scores(subjects):
    train, test = subjects
    encoder = create_encoder("test_resunet", spatial_dims=3, in_channels=1)
    options = {
        "k_values": [1, 2],
        "seeds": [0, 1],
        "modes": ["finetune"],
        "steps": 2,
        "crop_size_vox": 8,
        "window_vox": 16,
        "progress": False,
    }
    alone = run_few_shot_segmentation(encoder, train, test, **options)
    seen = []
    pooled = run_few_shot_segmentation(
        encoder,
        train,
        test,
        workers=2,
        on_run=lambda record, trained: seen.append((record.seed, trained.losses)),
        **options,
    )
    assert [(r.k, r.seed, r.train_subjects) for r in pooled] == [
        (r.k, r.seed, r.train_subjects) for r in alone
    ]
    for a, b in zip(alone, pooled, strict=True):  # one thread either way: the same arithmetic
        np.testing.assert_allclose(a.dice_per_volume, b.dice_per_volume, atol=1e-6)
    assert [seed for seed, _ in seen] == [0, 1, 0, 1]
    assert all(len(losses) == 2 for _, losses in seen)


def test_knn_mode_trains_nothing_and_is_scored_like_the_others(subjects):
    train, test = subjects
    encoder = create_encoder("test_resunet", spatial_dims=3, in_channels=1)
    seen = []
    records = run_few_shot_segmentation(
        encoder,
        train,
        test,
        k_values=[1, 2],
        seeds=[0],
        modes=["knn"],
        steps=5,
        crop_size_vox=8,
        window_vox=16,
        progress=False,
        on_run=lambda record, trained: seen.append(record),
    )
    assert [(r.k, r.mode, r.steps) for r in records] == [(1, "knn", 0), (2, "knn", 0)]
    assert seen == []  # no network to show
    assert records[1].dice_per_volume.shape == (2, 3)
    dice = records[1].dice_per_volume
    assert np.isfinite(dice[0]).all() and np.isnan(dice[1, 2])  # test1 has no structure 3
    assert ((dice[np.isfinite(dice)] >= 0) & (dice[np.isfinite(dice)] <= 1)).all()


def test_merging_refuses_records_of_different_seeds():
    from anatomy_ssl.evaluation.few_shot_segmentation import merge_few_shot_records

    def record(seed, mode):
        return EvaluationRecord(
            method="scratch",
            dataset="d",
            protocol=PROTOCOL,
            seed=seed,
            metrics={f"{mode}_k1_dice": 0.5},
            settings={"modes": [mode]},
            details={"runs": [{"mode": mode}], "overlay_png": "x.png"},
        )

    merged = merge_few_shot_records(record(0, "finetune"), record(0, "knn"))
    assert set(merged.metrics) == {"finetune_k1_dice", "knn_k1_dice"}
    assert merged.settings["modes"] == ["finetune", "knn"]
    assert merged.details["overlay_png"] == "x.png" and len(merged.details["runs"]) == 2
    with pytest.raises(ValueError, match="cannot merge"):
        merge_few_shot_records(record(0, "finetune"), record(1, "knn"))
