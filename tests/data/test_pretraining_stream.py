import dataclasses
import itertools

import numpy as np
import pytest
import torch

from anatomy_ssl.data import PretrainingStream, ViewGroup, make_pretraining_loader, read_views
from anatomy_ssl.preprocess import CachedVolume
from anatomy_ssl.transforms import AugmentationSpec, apply_augmentation

GROUPS = [ViewGroup(2, (12, 12, 12)), ViewGroup(2, (6, 6, 6))]


def _stream(folders, groups=GROUPS, **changes):
    options = {"seed": 0, "augmentation": AugmentationSpec(), "batch_size": 4} | changes
    batch_size = options.pop("batch_size")
    return PretrainingStream(folders, groups, batch_size, **options)


def _assert_same(a, b):
    assert a["step"] == b["step"]
    assert torch.equal(a["entry_index"], b["entry_index"])
    assert len(a["views"]) == len(b["views"])
    for x, y in zip(a["views"], b["views"], strict=True):
        assert torch.equal(x, y)


def test_batches_hold_augmented_views_in_group_order(entries_3d):
    batch = next(iter(_stream(entries_3d)))
    assert batch["step"] == 0
    assert batch["entry_index"].dtype == torch.int64 and batch["entry_index"].shape == (4,)
    shapes = [tuple(view.shape) for view in batch["views"]]
    assert shapes == [(4, 1, 12, 12, 12)] * 2 + [(4, 1, 6, 6, 6)] * 2
    assert all(view.dtype == torch.float32 for view in batch["views"])


def test_a_batch_is_its_plan_replayed(entries_3d):
    stream = _stream(entries_3d)
    specs, params = stream.plan(5)
    views = read_views([CachedVolume(folder) for folder in entries_3d], specs)
    expected = [apply_augmentation(v, p) for v, p in zip(views, params, strict=True)]
    batch = stream.batch(5)
    for got, want in zip(batch["views"], expected, strict=True):
        assert torch.equal(got, want)
    assert np.array_equal(batch["entry_index"].numpy(), specs[0].entry_index)


def test_views_are_augmented_independently(entries_3d):
    concentric = [ViewGroup(2, (8, 8, 8))]
    plain = _stream(
        entries_3d, concentric, augmentation=AugmentationSpec.none(), max_center_offset_fraction=0
    ).batch(0)
    assert torch.equal(plain["views"][0], plain["views"][1])
    augmented = _stream(entries_3d, concentric, max_center_offset_fraction=0).batch(0)
    assert not torch.equal(augmented["views"][0], augmented["views"][1])


def test_a_batch_depends_only_on_seed_rank_and_step(entries_3d):
    _assert_same(
        _stream(entries_3d, rank=1, world_size=2).batch(3),
        _stream(entries_3d, rank=1, world_size=2).batch(3),
    )
    other_rank = _stream(entries_3d, rank=0, world_size=2).batch(3)
    other_seed = _stream(entries_3d, rank=1, world_size=2, seed=1).batch(3)
    reference = _stream(entries_3d, rank=1, world_size=2).batch(3)
    for other in (other_rank, other_seed):
        assert not torch.equal(other["views"][0], reference["views"][0])


def test_resuming_at_a_step_continues_the_uninterrupted_stream(entries_3d):
    uninterrupted = list(itertools.islice(iter(_stream(entries_3d)), 5))
    resumed = list(itertools.islice(iter(_stream(entries_3d, start_step=3)), 2))
    assert [batch["step"] for batch in resumed] == [3, 4]
    for a, b in zip(uninterrupted[3:], resumed, strict=True):
        _assert_same(a, b)


def test_worker_count_does_not_change_the_stream(entries_3d):
    stream = _stream(entries_3d, start_step=2)
    in_process = list(itertools.islice(make_pretraining_loader(stream, workers=0), 5))
    loader = make_pretraining_loader(stream, workers=2)
    assert loader.persistent_workers and loader.batch_size is None
    with_workers = list(itertools.islice(loader, 5))
    assert [batch["step"] for batch in with_workers] == [2, 3, 4, 5, 6]
    for a, b in zip(in_process, with_workers, strict=True):
        _assert_same(a, b)


def test_2d_entries_give_2d_views(entries_2d):
    batch = _stream(entries_2d, [ViewGroup(2, (16, 16))], batch_size=3).batch(0)
    assert [tuple(view.shape) for view in batch["views"]] == [(3, 1, 16, 16)] * 2


def test_invalid_inputs_are_clear_errors(entries_3d, entries_2d):
    with pytest.raises(ValueError, match="no cache entries"):
        _stream([])
    with pytest.raises(ValueError, match="spatial dims"):
        _stream(entries_2d)
    with pytest.raises(ValueError, match="spatial dims"):
        _stream([*entries_3d, *entries_2d], [ViewGroup(2, (8, 8, 8))])
    with pytest.raises(ValueError, match="rank"):
        _stream(entries_3d, rank=2, world_size=2)


def test_view_geometry_places_every_view_voxel_in_its_volume(entries_3d):
    flips_only = dataclasses.replace(AugmentationSpec.none(), flip_probability=0.5)
    stream = _stream(entries_3d, augmentation=flips_only, batch_size=6)
    batch = stream.batch(2)
    volumes = [CachedVolume(folder).load_image() for folder in entries_3d]
    starts, flips = batch["view_start_vox"].numpy(), batch["view_flips"].numpy()
    assert starts.shape == flips.shape == (4, 6, 3) and flips.any()
    assert batch["spacing_mm"].shape == (6, 3)
    rng = np.random.default_rng(0)
    for v, view in enumerate(batch["views"]):
        size = np.array(view.shape[2:])
        for b in range(6):
            image = volumes[int(batch["entry_index"][b])]
            for u in rng.integers(0, size, size=(5, 3)):
                voxel = starts[v, b] + np.where(flips[v, b], size - 1 - u, u)
                if (voxel >= 0).all() and (voxel < image.shape[1:]).all():
                    assert view[b, 0, u[0], u[1], u[2]] == image[0, voxel[0], voxel[1], voxel[2]]
