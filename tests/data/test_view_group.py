import pytest

from anatomy_ssl.data import ViewGroup


def test_sizes_become_int_tuples_and_give_the_dimension():
    group = ViewGroup(2, [32, 32, 32])  # YAML gives lists
    assert group.size_vox == (32, 32, 32) and group.spatial_dims == 3
    assert ViewGroup(count=4, size_vox=(24, 24)).spatial_dims == 2


@pytest.mark.parametrize(("count", "size"), [(0, (8, 8, 8)), (1, (8,)), (1, (8, 0, 8))])
def test_invalid_groups_are_rejected(count, size):
    with pytest.raises(ValueError):
        ViewGroup(count, size)
