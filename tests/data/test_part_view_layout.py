import pytest

from anatomy_ssl.anatomy import DecompositionSchedule
from anatomy_ssl.data import PartViewLayout, ViewGroup

SCHEDULE = DecompositionSchedule(levels=(0, 1), total_steps=10)


def test_view_groups_are_full_views_then_local_crops_then_sub_parts_3d():
    layout = PartViewLayout(
        (16, 16, 12), SCHEDULE, views=2, local_crops=3, local_size_vox=(8, 6, 4), sub_parts=True
    )
    assert layout.spatial_dims == 3 and layout.sub_part_count == 8
    assert layout.view_groups() == [
        ViewGroup(2, (16, 16, 12)),
        ViewGroup(3, (8, 6, 4)),
        ViewGroup(8, (8, 8, 6)),
    ]


def test_a_2d_part_has_four_sub_parts_of_half_size():
    layout = PartViewLayout([32, 20], SCHEDULE, views=1, sub_parts=True)
    assert layout.size_vox == (32, 20)  # normalized to a tuple of ints
    assert layout.sub_part_count == 4
    assert layout.view_groups() == [ViewGroup(1, (32, 20)), ViewGroup(4, (16, 10))]


def test_without_local_crops_or_sub_parts_only_the_full_views_remain():
    layout = PartViewLayout((16, 16, 16), SCHEDULE, views=3)
    assert layout.sub_part_count == 0
    assert layout.view_groups() == [ViewGroup(3, (16, 16, 16))]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"views": 0},
        {"local_crops": -1},
        {"jitter_fraction": 0.5},
        {"jitter_fraction": -0.1},
        {"local_crops": 2},  # no local size
        {"local_crops": 2, "local_size_vox": (8, 8)},  # wrong dimensionality
        {"local_crops": 2, "local_size_vox": (8, 17, 8)},  # larger than the part
        {"local_crops": 2, "local_size_vox": (8, 0, 8)},
        {"size_vox": (16, 15, 16), "sub_parts": True},  # odd size cannot be halved
    ],
)
def test_invalid_layouts_raise(kwargs):
    options = {"size_vox": (16, 16, 16), "schedule": SCHEDULE} | kwargs
    with pytest.raises(ValueError):
        PartViewLayout(**options)


def test_an_odd_size_is_fine_without_sub_parts_and_local_size_may_equal_size():
    layout = PartViewLayout(
        (15, 16, 16), SCHEDULE, local_crops=1, local_size_vox=(15, 16, 16), jitter_fraction=0.0
    )
    assert layout.view_groups()[1] == ViewGroup(1, (15, 16, 16))
