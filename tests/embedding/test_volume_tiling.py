import numpy as np

from anatomy_ssl.embedding import covering_tile_starts


def test_tiles_cover_every_voxel_and_stay_inside():
    size, tile = (70, 64, 20), (32, 32, 32)
    starts = covering_tile_starts(size, tile)
    covered = np.zeros(size, dtype=bool)
    for start in starts:
        region = tuple(
            slice(max(s, 0), min(s + t, n)) for s, t, n in zip(start, tile, size, strict=True)
        )
        covered[region] = True
    assert covered.all()
    assert starts[:, 0].tolist().count(0) == 2 and set(starts[:, 0]) == {0, 32, 38}
    assert set(starts[:, 2]) == {-6}  # shorter axis: one centred (padded) tile
