import itertools
from dataclasses import replace

import numpy as np
import pytest
import torch

from anatomy_ssl.anatomy import DecompositionSchedule, body_bounding_box, sample_part_boxes
from anatomy_ssl.data import AnatomyPartStream, PartViewLayout
from anatomy_ssl.data.part_view_reader import read_resampled_boxes
from anatomy_ssl.preprocess import CachedVolume, VolumeCache
from anatomy_ssl.transforms import AugmentationSpec

SCHEDULE = DecompositionSchedule(levels=(0, 1), total_steps=10)
BATCH = 3


def _layout(dims=3, **changes):
    options = {
        "size_vox": (16,) * dims,
        "schedule": SCHEDULE,
        "views": 2,
        "local_crops": 2,
        "local_size_vox": (8,) * dims,
        "sub_parts": True,
    } | changes
    return PartViewLayout(**options)


def _folders(cache):
    return [entry.folder for entry in VolumeCache(cache).entries()]


def _stream(cache, layout=None, **changes):
    options = {"seed": 0, "augmentation": AugmentationSpec()} | changes
    return AnatomyPartStream(_folders(cache), layout or _layout(), BATCH, **options)


def _assert_same(a, b):
    assert a["step"] == b["step"] and a["level"] == b["level"]
    assert torch.equal(a["entry_index"], b["entry_index"])
    assert len(a["views"]) == len(b["views"])
    for x, y in zip(a["views"], b["views"], strict=True):
        assert torch.equal(x, y)


def _join_halves(parts, dims):
    """Inverse of `split_into_halves`: C order, first axis the most significant bit."""

    def join(chunk, axis):
        if axis == dims:
            return chunk[0]
        step = len(chunk) // 2
        return torch.cat([join(chunk[:step], axis + 1), join(chunk[step:], axis + 1)], 2 + axis)

    return join(list(parts), 0)


@pytest.fixture(scope="module")
def channels(tiny_cache):
    return CachedVolume(_folders(tiny_cache)[0]).load_image().shape[0]


def test_views_come_in_layout_order_with_their_sizes(tiny_cache, channels):
    batch = _stream(tiny_cache).batch(0)
    shapes = [tuple(view.shape) for view in batch["views"]]
    full, half = (BATCH, channels, 16, 16, 16), (BATCH, channels, 8, 8, 8)
    assert shapes == [full] * 2 + [half] * 2 + [half] * 8
    assert all(view.dtype == torch.float32 for view in batch["views"])
    assert batch["entry_index"].dtype == torch.int64 and batch["entry_index"].shape == (BATCH,)
    assert batch["step"] == 0


def test_the_level_follows_the_schedule(tiny_cache):
    stream = _stream(tiny_cache)
    assert [stream.batch(step)["level"] for step in (0, 4, 5, 9, 12)] == [0, 0, 1, 1, 1]


def test_body_boxes_are_found_per_entry(tiny_cache):
    stream = _stream(tiny_cache)
    for folder, start, stop in zip(
        stream.entry_folders, stream.body_start_vox, stream.body_stop_vox, strict=True
    ):
        want_start, want_stop = body_bounding_box(CachedVolume(folder))
        assert np.array_equal(start, want_start) and np.array_equal(stop, want_stop)


@pytest.mark.parametrize("mode", ["random_box", "grid"])
@pytest.mark.parametrize("step", [2, 7])
def test_the_first_view_is_the_decomposers_part_resampled(tiny_cache, mode, step):
    stream = _stream(tiny_cache, _layout(mode=mode), augmentation=AugmentationSpec.none())
    batch = stream.batch(step)
    rng = np.random.default_rng([stream.seed, stream.rank, step])
    parts = sample_part_boxes(
        stream.body_start_vox, stream.body_stop_vox, BATCH, SCHEDULE.level_at(step), rng, mode=mode
    )
    entries = [CachedVolume(folder) for folder in stream.entry_folders]
    expected = read_resampled_boxes(
        entries, parts.entry_index, parts.start_vox, parts.size_vox, (16, 16, 16)
    )
    assert np.array_equal(batch["entry_index"].numpy(), parts.entry_index)
    assert torch.equal(batch["views"][0], expected)


def test_the_same_step_gives_the_same_batch_and_resuming_continues_the_stream(tiny_cache):
    reference = _stream(tiny_cache)
    _assert_same(reference.batch(6), _stream(tiny_cache).batch(6))
    resumed = list(itertools.islice(iter(_stream(tiny_cache, start_step=4)), 2))
    assert [batch["step"] for batch in resumed] == [4, 5]
    assert [batch["level"] for batch in resumed] == [0, 1]
    for batch in resumed:
        _assert_same(batch, reference.batch(batch["step"]))


def test_batches_differ_between_steps_seeds_and_ranks(tiny_cache):
    reference = _stream(tiny_cache).batch(1)
    others = [
        _stream(tiny_cache).batch(2),
        _stream(tiny_cache, seed=1).batch(1),
        _stream(tiny_cache, rank=1, world_size=2).batch(1),
    ]
    for other in others:
        assert not torch.equal(other["views"][0], reference["views"][0])


@pytest.mark.parametrize("step", [0, 8])
def test_sub_parts_are_the_halves_of_the_first_view(tiny_cache, step):
    views = _stream(tiny_cache, augmentation=AugmentationSpec.none()).batch(step)["views"]
    assert torch.equal(_join_halves(views[4:], 3), views[0])


def test_local_crops_are_windows_of_the_first_view(tiny_cache):
    views = _stream(tiny_cache, augmentation=AugmentationSpec.none()).batch(3)["views"]
    first = views[0]
    for crop in views[2:4]:
        for b in range(BATCH):
            assert any(
                torch.equal(crop[b], first[b, :, i : i + 8, j : j + 8, k : k + 8])
                for i, j, k in itertools.product(range(9), repeat=3)
            )


@pytest.mark.parametrize("step", [0, 6])
def test_without_jitter_both_full_views_are_cut_from_the_same_part(tiny_cache, step):
    stream = _stream(tiny_cache, _layout(jitter_fraction=0.0), augmentation=AugmentationSpec.none())
    views = stream.batch(step)["views"]
    assert torch.equal(views[0], views[1])
    # Augmentation is drawn per view: with it, the two views differ.
    augmented = _stream(tiny_cache, _layout(jitter_fraction=0.0)).batch(step)["views"]
    assert not torch.equal(augmented[0], augmented[1])


def test_views_are_never_flipped(tiny_cache):
    always_flip = replace(AugmentationSpec.none(), flip_probability=1.0)
    flipped = _stream(tiny_cache, augmentation=always_flip).batch(5)
    plain = _stream(tiny_cache, augmentation=AugmentationSpec.none()).batch(5)
    _assert_same(flipped, plain)


def test_2d_radiographs_give_2d_part_views(tiny_xray_cache):
    layout = _layout(dims=2)
    stream = _stream(tiny_xray_cache, layout, augmentation=AugmentationSpec.none())
    batch = stream.batch(7)
    assert batch["level"] == 1
    channels = batch["views"][0].shape[1]
    shapes = [tuple(view.shape) for view in batch["views"]]
    assert shapes == [(BATCH, channels, 16, 16)] * 2 + [(BATCH, channels, 8, 8)] * (2 + 4)
    assert torch.equal(_join_halves(batch["views"][4:], 2), batch["views"][0])
    again = _stream(tiny_xray_cache, layout, augmentation=AugmentationSpec.none()).batch(7)
    _assert_same(batch, again)


def test_with_jitter_the_second_view_is_a_shifted_box_of_the_same_size(tiny_cache):
    stream = _stream(tiny_cache, _layout(jitter_fraction=0.2), augmentation=AugmentationSpec.none())
    step = 7
    views = stream.batch(step)["views"]
    assert not torch.equal(views[0], views[1])
    rng = np.random.default_rng([stream.seed, stream.rank, step])
    parts = sample_part_boxes(
        stream.body_start_vox, stream.body_stop_vox, BATCH, SCHEDULE.level_at(step), rng
    )
    reach = np.floor(0.2 * parts.size_vox).astype(np.int64)
    shift = rng.integers(-reach, reach + 1, dtype=np.int64)  # the stream's next draw
    volume = stream.volume_sizes[parts.entry_index]
    start = np.clip(parts.start_vox + shift, 0, volume - parts.size_vox)
    entries = [CachedVolume(folder) for folder in stream.entry_folders]
    expected = read_resampled_boxes(entries, parts.entry_index, start, parts.size_vox, (16,) * 3)
    assert torch.equal(views[1], expected)


@pytest.mark.parametrize("step", [2, 7])
def test_native_views_are_unresampled_boxes_of_the_level_size_centred_on_the_part(tiny_cache, step):
    layout = _layout(scale="native", size_multiple=4, sub_parts=False, local_crops=0)
    stream = _stream(tiny_cache, layout, augmentation=AugmentationSpec.none())
    batch = stream.batch(step)
    level = SCHEDULE.level_at(step)
    extent = stream.body_stop_vox - stream.body_start_vox
    size = layout.native_size_vox(extent, level)
    assert all(
        n % 4 == 0 and n >= m / 2**level for n, m in zip(size, np.median(extent, 0), strict=True)
    )
    assert tuple(batch["views"][0].shape[2:]) == size
    rng = np.random.default_rng([stream.seed, stream.rank, step])
    parts = sample_part_boxes(stream.body_start_vox, stream.body_stop_vox, BATCH, level, rng)
    start = parts.start_vox + (parts.size_vox - np.asarray(size)) // 2
    entries = [CachedVolume(folder) for folder in stream.entry_folders]
    expected = np.concatenate(
        [
            entries[int(e)].crops(s[None], size, with_label=False).image
            for e, s in zip(parts.entry_index, start, strict=True)
        ]
    )
    assert np.array_equal(batch["views"][0].numpy(), expected)  # cut, never resampled


def test_native_views_grow_with_the_part_and_keep_sub_parts_and_local_crops_in_proportion(
    tiny_cache,
):
    layout = _layout(scale="native", size_multiple=8)
    stream = _stream(tiny_cache, layout, augmentation=AugmentationSpec.none())
    coarse, fine = stream.batch(0), stream.batch(9)  # levels 0 and 1
    big, small = coarse["views"][0].shape[2:], fine["views"][0].shape[2:]
    assert all(b >= s for b, s in zip(big, small, strict=True)) and big != small
    for batch in (coarse, fine):
        full = tuple(batch["views"][0].shape[2:])
        assert tuple(batch["views"][2].shape[2:]) == layout.local_size_at(full)
        assert torch.equal(_join_halves(batch["views"][4:], 3), batch["views"][0])
