import itertools

import numpy as np
import pytest

from anatomy_ssl.data import ViewGroup, sample_view_specs

VOLUMES = np.array([[20, 20, 20], [24, 18, 20], [16, 22, 20]])
MULTI_CROP = [ViewGroup(2, (12, 12, 12)), ViewGroup(4, (6, 6, 6))]


def _reach(size, fraction):
    """Largest integer offset strictly below fraction * size (the documented bound)."""
    return np.maximum(np.ceil(fraction * np.asarray(size)) - 1, 0)


def test_one_spec_per_view_in_group_order_all_from_the_same_entries():
    specs = sample_view_specs(VOLUMES, MULTI_CROP, 64, np.random.default_rng(0))
    assert [spec.size_vox for spec in specs] == [(12,) * 3] * 2 + [(6,) * 3] * 4
    for spec in specs:
        assert spec.start_vox.shape == (64, 3) and spec.start_vox.dtype == np.int64
        assert np.array_equal(spec.entry_index, specs[0].entry_index)
    assert set(specs[0].entry_index.tolist()) == {0, 1, 2}


@pytest.mark.parametrize("fraction", [0.0, 0.25, 0.5])
def test_views_stay_inside_and_views_of_a_sample_overlap(fraction):
    specs = sample_view_specs(
        VOLUMES, MULTI_CROP, 200, np.random.default_rng(1), max_center_offset_fraction=fraction
    )
    volume = VOLUMES[specs[0].entry_index]  # (B, S)
    for spec in specs:
        assert np.all(spec.start_vox >= 0)
        assert np.all(spec.start_vox + spec.size_vox <= volume)
    for a, b in itertools.combinations(specs, 2):
        gap = np.abs(a.center_vox - b.center_vox)  # (B, S)
        assert np.all(gap <= _reach(a.size_vox, fraction) + _reach(b.size_vox, fraction))
        overlap = np.minimum(a.start_vox + a.size_vox, b.start_vox + b.size_vox) - np.maximum(
            a.start_vox, b.start_vox
        )
        assert np.all(overlap > 0)


def test_zero_offset_gives_concentric_views_and_every_position_is_reachable():
    volumes = np.array([[20, 20, 20]])
    specs = sample_view_specs(
        volumes, MULTI_CROP, 500, np.random.default_rng(2), max_center_offset_fraction=0.0
    )
    for spec in specs:
        assert np.array_equal(spec.center_vox, specs[0].center_vox)
    # the anchor ranges over every centre where the 12^3 view fits: starts 0..8
    assert set(specs[0].start_vox[:, 0].tolist()) == set(range(9))


def test_offsets_reach_their_bound():
    specs = sample_view_specs(
        np.array([[200, 200, 200]]), [ViewGroup(2, (10, 10, 10))], 2000, np.random.default_rng(3)
    )
    gap = specs[0].center_vox - specs[1].center_vox
    assert gap.max() == 2 * 4 and gap.min() == -2 * 4  # |offset| < 0.5 * 10 -> up to 4 each


def test_a_view_larger_than_the_volume_is_centred_on_that_axis():
    volumes = np.array([[10, 30, 30]])
    specs = sample_view_specs(
        volumes, [ViewGroup(2, (16, 8, 8)), ViewGroup(1, (4, 4, 4))], 50, np.random.default_rng(4)
    )
    for spec in specs[:2]:
        assert np.all(spec.start_vox[:, 0] == (10 - 16) // 2)
    small = specs[2]
    assert np.all(small.start_vox >= 0) and np.all(small.start_vox + 4 <= volumes[0])


def test_the_same_generator_state_gives_the_same_specs():
    first = sample_view_specs(VOLUMES, MULTI_CROP, 8, np.random.default_rng(5))
    again = sample_view_specs(VOLUMES, MULTI_CROP, 8, np.random.default_rng(5))
    for a, b in zip(first, again, strict=True):
        assert np.array_equal(a.start_vox, b.start_vox)
        assert np.array_equal(a.entry_index, b.entry_index)


def test_2d_volumes():
    specs = sample_view_specs(
        np.array([[40, 36], [30, 44]]), [ViewGroup(2, (16, 16))], 32, np.random.default_rng(6)
    )
    volume = np.array([[40, 36], [30, 44]])[specs[0].entry_index]
    assert specs[0].start_vox.shape == (32, 2)
    assert np.all(specs[1].start_vox >= 0) and np.all(specs[1].start_vox + 16 <= volume)


@pytest.mark.parametrize(
    ("volumes", "groups", "batch"),
    [
        (np.zeros((0, 3), dtype=np.int64), MULTI_CROP, 4),
        (np.array([[20, 20]]), MULTI_CROP, 4),
        (VOLUMES, [], 4),
        (VOLUMES, MULTI_CROP, 0),
    ],
)
def test_invalid_arguments_are_rejected(volumes, groups, batch):
    with pytest.raises(ValueError):
        sample_view_specs(volumes, groups, batch, np.random.default_rng(0))
