"""The anatomical frame a DrasCLR run trains on: found in the run's own cache, with its patch
size equal to the run's crops, else a clear error naming the folder."""

import shutil

import pytest

from anatomy_ssl.errors import InputError
from anatomy_ssl.preprocess import VolumeCache
from anatomy_ssl.training.pretraining_data import PretrainingData, frame_sample_table


def _data(cache_root, keep=None):
    cache = VolumeCache(cache_root)
    spec_hash = cache.resolve_spec_hash(None)
    entries = sorted(cache.entries(spec_hash), key=lambda v: v.key)[:keep]
    return PretrainingData(
        entry_folders=tuple(entry.folder for entry in entries),
        spec=cache.spec(spec_hash),
        spatial_dims=3,
        in_channels=1,
    )


def test_the_frame_table_indexes_the_runs_own_volumes(tiny_cache, tiny_frame):
    table = frame_sample_table(
        tiny_frame, _data(tiny_cache, keep=3), neighbours=2, crop_size_vox=16
    )
    assert sorted(table.subject_entry.tolist()) == [0, 1, 2]  # the fourth subject is not in the run
    assert table.neighbours == 2 and table.valid.shape[0] == 3


def test_a_frame_of_other_crops_or_another_cache_is_refused_by_name(
    tiny_cache, tiny_frame, tmp_path
):
    data = _data(tiny_cache)
    with pytest.raises(InputError, match=r"--patch 24 or set data\.crop_size_vox=16"):
        frame_sample_table(tiny_frame, data, neighbours=2, crop_size_vox=24)
    with pytest.raises(InputError, match="not an anatomical frame folder"):
        frame_sample_table(tmp_path, data, neighbours=2, crop_size_vox=16)
    elsewhere = tmp_path / "other" / "frame" / tiny_frame.name
    shutil.copytree(tiny_frame, elsewhere)
    with pytest.raises(InputError, match="framed on preprocessing other"):
        frame_sample_table(elsewhere, data, neighbours=2, crop_size_vox=16)
    with pytest.raises(InputError, match="locations"):
        frame_sample_table(tiny_frame, data, neighbours=10_000, crop_size_vox=16)
