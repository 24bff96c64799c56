import numpy as np
import pytest
import torch

from anatomy_ssl.data import ViewGroup, ViewSpec, read_views, sample_view_specs
from anatomy_ssl.preprocess import CachedVolume


def _reference(entries, spec):
    """One `crops` call per sample: obviously in batch order."""
    return np.stack(
        [
            entries[e].crops(start[None], spec.size_vox, with_label=False).image[0]
            for e, start in zip(spec.entry_index, spec.start_vox, strict=True)
        ]
    ).astype(np.float32)


def test_views_equal_per_sample_crops(entries_3d):
    entries = [CachedVolume(folder) for folder in entries_3d]
    sizes = np.array([entry.size_vox for entry in entries])
    groups = [ViewGroup(2, (10, 10, 10)), ViewGroup(2, (4, 6, 8))]
    specs = sample_view_specs(sizes, groups, 12, np.random.default_rng(0))
    views = read_views(entries, specs)
    assert len(views) == 4
    for view, spec in zip(views, specs, strict=True):
        assert view.dtype == torch.float32 and view.shape == (12, 1, *spec.size_vox)
        assert np.array_equal(view.numpy(), _reference(entries, spec))
        # the value's thousands say which entry a crop came from
        assert np.array_equal(view[:, 0, 0, 0, 0].numpy() // 1000, spec.entry_index)


def test_border_crops_are_padded_and_channels_kept(make_entries):
    entries = [CachedVolume(folder) for folder in make_entries([(8, 8, 8), (6, 9, 7)], 2)]
    spec = ViewSpec(
        np.array([1, 0, 1, 1]),
        np.array([[-3, 0, 0], [4, 4, 4], [2, 7, -2], [20, 20, 20]]),
        (5, 5, 5),
    )
    (view,) = read_views(entries, [spec])
    assert view.shape == (4, 2, 5, 5, 5)
    assert np.array_equal(view.numpy(), _reference(entries, spec))
    assert torch.all(view[3] == -1.0)  # entirely outside: background
    assert torch.all(view[0, :, :3] == -1.0)


def test_entries_with_different_channel_counts_are_an_error(make_entries):
    entries = [
        CachedVolume(make_entries([(8, 8, 8)], 1)[0]),
        CachedVolume(make_entries([(8, 8, 8)], 2)[0]),
    ]
    spec = ViewSpec(np.array([0, 1]), np.zeros((2, 3), dtype=np.int64), (4, 4, 4))
    with pytest.raises(ValueError, match="channel"):
        read_views(entries, [spec])
