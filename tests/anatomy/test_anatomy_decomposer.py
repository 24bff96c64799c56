import numpy as np
import pytest

from anatomy_ssl.anatomy import PartBoxes, sample_part_boxes

# Two volumes' body boxes per dimensionality; extents >= 2^3 so every level-3 grid cell is
# non-empty.
BODIES = {
    3: (np.array([[2, 3, 1], [0, 5, 4]]), np.array([[21, 16, 12], [13, 30, 20]])),
    2: (np.array([[1, 4], [6, 0]]), np.array([[30, 15], [17, 27]])),
}
LEVELS = [0, 1, 2, 3]


def _sample(dims, level, mode, batch_size=64, seed=0):
    start, stop = BODIES[dims]
    rng = np.random.default_rng(seed)
    return sample_part_boxes(start, stop, batch_size, level, rng, mode=mode)


def _boxes_of(parts: PartBoxes, entry: int) -> set[tuple[tuple[int, ...], tuple[int, ...]]]:
    rows = np.flatnonzero(parts.entry_index == entry)
    return {(tuple(parts.start_vox[r].tolist()), tuple(parts.size_vox[r].tolist())) for r in rows}


@pytest.mark.parametrize("dims", [2, 3])
@pytest.mark.parametrize("level", LEVELS)
def test_grid_cells_tile_the_body_box_exactly(dims, level):
    start, stop = BODIES[dims]
    # 20000 draws over 2 volumes: every one of the <= 512 cells of each is drawn.
    parts = _sample(dims, level, "grid", batch_size=20_000)
    for entry in range(len(start)):
        cells = _boxes_of(parts, entry)
        assert len(cells) == 2 ** (level * dims)
        count = np.zeros(stop[entry] + 2, dtype=np.int64)  # room outside the body box
        for first, size in cells:
            count[tuple(slice(a, a + n) for a, n in zip(first, size, strict=True))] += 1
        body = tuple(slice(a, b) for a, b in zip(start[entry], stop[entry], strict=True))
        assert np.all(count[body] == 1)  # covered exactly once
        assert count.sum() == np.prod(stop[entry] - start[entry])  # nothing outside
        # Cell edges at start + floor(i * extent / 2^g), as documented.
        extent = stop[entry] - start[entry]
        for axis in range(dims):
            edges = {start[entry][axis] + i * extent[axis] // 2**level for i in range(2**level)}
            assert {first[axis] for first, _ in cells} == edges


@pytest.mark.parametrize("dims", [2, 3])
@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("mode", ["grid", "random_box"])
def test_every_box_lies_inside_its_volumes_body_box(dims, level, mode):
    start, stop = BODIES[dims]
    parts = _sample(dims, level, mode, batch_size=500)
    assert parts.level == level
    assert parts.entry_index.shape == (500,) and parts.entry_index.dtype == np.int64
    assert parts.start_vox.shape == parts.size_vox.shape == (500, dims)
    assert set(parts.entry_index.tolist()) == {0, 1}  # both volumes are drawn
    assert np.all(parts.size_vox >= 1)
    assert np.all(parts.start_vox >= start[parts.entry_index])
    assert np.all(parts.start_vox + parts.size_vox <= stop[parts.entry_index])


@pytest.mark.parametrize("mode", ["grid", "random_box"])
@pytest.mark.parametrize("level", LEVELS)
def test_a_body_smaller_than_the_grid_still_gives_boxes_inside_it(mode, level):
    start, stop = np.array([[4, 4, 4]]), np.array([[7, 5, 12]])  # extents 3, 1, 8
    parts = sample_part_boxes(start, stop, 200, level, np.random.default_rng(1), mode=mode)
    assert np.all(parts.size_vox >= 1)
    assert np.all(parts.start_vox >= start) and np.all(parts.start_vox + parts.size_vox <= stop)


@pytest.mark.parametrize("dims", [2, 3])
@pytest.mark.parametrize("level", LEVELS)
def test_random_boxes_span_the_body_extent_over_two_to_the_level(dims, level):
    start, stop = BODIES[dims]
    parts = _sample(dims, level, "random_box", batch_size=2000)
    for b in range(len(parts.entry_index)):
        extent = (stop - start)[parts.entry_index[b]]
        expected = [max(round(int(e) / 2**level), 1) for e in extent]
        assert parts.size_vox[b].tolist() == expected
    # Positions are uniform over every placement inside the body box: both ends are reached.
    for entry in range(len(start)):
        rows = parts.entry_index == entry
        size = parts.size_vox[rows][0]
        assert np.array_equal(parts.start_vox[rows].min(axis=0), start[entry])
        assert np.array_equal(parts.start_vox[rows].max(axis=0), stop[entry] - size)


@pytest.mark.parametrize("dims", [2, 3])
@pytest.mark.parametrize("mode", ["grid", "random_box"])
def test_level_zero_is_the_whole_body_box(dims, mode):
    start, stop = BODIES[dims]
    parts = _sample(dims, 0, mode)
    assert np.array_equal(parts.start_vox, start[parts.entry_index])
    assert np.array_equal(parts.size_vox, (stop - start)[parts.entry_index])


@pytest.mark.parametrize("dims", [2, 3])
@pytest.mark.parametrize("level", LEVELS[:-1])
def test_each_level_halves_the_random_box_size(dims, level):
    coarse = _sample(dims, level, "random_box", batch_size=200)
    fine = _sample(dims, level + 1, "random_box", batch_size=200)
    for entry in range(len(BODIES[dims][0])):
        coarse_size = coarse.size_vox[coarse.entry_index == entry][0]
        fine_size = fine.size_vox[fine.entry_index == entry][0]
        assert np.all(np.abs(coarse_size - 2 * fine_size) <= 1)


@pytest.mark.parametrize(
    ("start", "stop", "level", "mode", "batch_size"),
    [
        ([[2, 3, 4]], [[2, 9, 9]], 1, "grid", 4),  # empty along the first axis
        ([[2, 3, 4]], [[9, 1, 9]], 1, "random_box", 4),  # stop < start
        ([[-1, 3, 4]], [[9, 9, 9]], 1, "random_box", 4),  # negative start
        ([[2, 3, 4]], [[9, 9]], 1, "random_box", 4),  # shapes differ
        ([[2, 3, 4]], [[9, 9, 9]], -1, "random_box", 4),  # negative level
        ([[2, 3, 4]], [[9, 9, 9]], 1, "random_box", 0),  # no samples
        ([[2, 3, 4]], [[9, 9, 9]], 1, "octants", 4),  # unknown mode
    ],
)
def test_bad_inputs_raise(start, stop, level, mode, batch_size):
    with pytest.raises(ValueError):
        sample_part_boxes(
            np.array(start), np.array(stop), batch_size, level, np.random.default_rng(0), mode=mode
        )


@pytest.mark.parametrize("mode", ["grid", "random_box"])
def test_the_same_seed_gives_the_same_boxes(mode):
    a, b = (_sample(3, 2, mode, seed=5) for _ in range(2))
    for name in ("entry_index", "start_vox", "size_vox"):
        assert np.array_equal(getattr(a, name), getattr(b, name))
    other = _sample(3, 2, mode, seed=6)
    assert not np.array_equal(a.start_vox, other.start_vox)
