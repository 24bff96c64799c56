"""Mining one source volume's pairs: body points, a planted shift recovered by registration,
refused and outside matches dropped, and the partner choice."""

import numpy as np
import pytest

from anatomy_ssl.correspondence import (
    MinedPairs,
    PointMatches,
    RegistrationMatcher,
    choose_partners,
    mine_volume_pairs,
)
from anatomy_ssl.correspondence.pair_mining import body_mask
from anatomy_ssl.errors import InputError
from support.blob_phantom import AFFINE, SIZE, phantom
from support.coordinate_volumes import write_test_entry

SHIFT = np.array([2, -2, 1])  # voxels


class OffsetMatcher:
    """Maps points by a fixed mm offset and refuses those whose first coordinate is above
    `refuse_above_mm`; similarity = the first coordinate."""

    def __init__(self, offset_mm, refuse_above_mm) -> None:
        self.offset_mm = np.asarray(offset_mm, dtype=float)
        self.refuse_above_mm = refuse_above_mm

    def match(self, source, points_mm, target) -> PointMatches:
        accepted = points_mm[:, 0] <= self.refuse_above_mm
        matched = points_mm + self.offset_mm
        matched[~accepted] = np.nan
        return PointMatches(matched, points_mm[:, 0].copy(), accepted)


@pytest.fixture(scope="module")
def volumes(tmp_path_factory):
    root = tmp_path_factory.mktemp("pair-mining")
    return (
        write_test_entry(root, "source", phantom(), AFFINE),
        write_test_entry(root, "shifted", phantom(SHIFT), AFFINE),
        write_test_entry(root, "blank", np.zeros((1, *SIZE), np.float32), AFFINE),
    )


def test_a_planted_shift_is_recovered_by_registration(volumes):
    source, shifted, _ = volumes
    pairs = mine_volume_pairs(
        RegistrationMatcher(),
        source,
        [shifted, shifted],
        points_per_partner=64,
        rng=np.random.default_rng(0),
        matcher_id="reg",
    )
    assert isinstance(pairs, MinedPairs) and pairs.matcher_id == "reg"
    assert pairs.source_key == "source" and pairs.partner_keys == ("shifted", "shifted")
    assert pairs.requested == 128 and pairs.count + pairs.refused == 128
    assert pairs.count >= 120  # only points whose shifted copy leaves the grid are dropped
    assert pairs.source_vox.dtype == pairs.partner_vox.dtype == np.int64
    assert pairs.similarity.dtype == np.float32 and np.isnan(pairs.similarity).all()
    assert body_mask(source)[tuple(pairs.source_vox.T)].all()
    assert ((pairs.partner_vox >= 0) & (pairs.partner_vox < SIZE)).all()
    assert np.abs(pairs.partner_vox - (pairs.source_vox + SHIFT)).max() <= 1
    np.testing.assert_array_equal(pairs.pairs_per_partner(), np.bincount(pairs.partner_index))
    # two partners drew their own points
    first, second = (pairs.source_vox[pairs.partner_index == i] for i in (0, 1))
    assert not np.array_equal(first[:10], second[:10])


def test_points_are_uniform_over_the_body(volumes):
    source, _, _ = volumes
    pairs = mine_volume_pairs(
        OffsetMatcher((0, 0, 0), np.inf),
        source,
        [source] * 5,
        points_per_partner=4000,
        rng=np.random.default_rng(1),
    )
    mask = body_mask(source)
    assert pairs.count == 20000 and pairs.matcher_id == "OffsetMatcher"
    np.testing.assert_array_equal(pairs.partner_vox, pairs.source_vox)
    assert mask[tuple(pairs.source_vox.T)].all()
    # the share of points in each half of the body matches the share of body voxels there
    half = SIZE[0] // 2
    expected = mask[:half].sum() / mask.sum()
    assert abs(np.mean(pairs.source_vox[:, 0] < half) - expected) < 0.02


def test_refused_and_outside_matches_are_dropped(volumes):
    source, shifted, _ = volumes
    offset_mm = np.array([20.0, 0.0, 0.0])  # 5 voxels along axis 0: some land past the end
    matcher = OffsetMatcher(offset_mm, refuse_above_mm=0.0)
    pairs = mine_volume_pairs(
        matcher, source, [shifted], points_per_partner=500, rng=np.random.default_rng(2)
    )
    mm = pairs.source_vox @ AFFINE[:3, :3].T + AFFINE[:3, 3]
    assert (mm[:, 0] <= 0).all()  # refused points are gone
    np.testing.assert_array_equal(pairs.partner_vox, pairs.source_vox + np.array([5, 0, 0]))
    assert (pairs.partner_vox[:, 0] < SIZE[0]).all()
    np.testing.assert_allclose(pairs.similarity, mm[:, 0])
    # the same draw again, counting what should survive
    rng = np.random.default_rng(2)
    body = np.flatnonzero(body_mask(source))
    vox = np.stack(np.unravel_index(body[rng.integers(0, len(body), (1, 500))][0], SIZE), 1)
    kept = (vox @ AFFINE[:3, :3].T + AFFINE[:3, 3])[:, 0] <= 0
    kept &= vox[:, 0] + 5 < SIZE[0]
    assert 0 < pairs.count == kept.sum() < 500 and pairs.refused == 500 - kept.sum()


def test_a_source_without_body_cannot_be_mined(volumes):
    _, shifted, blank = volumes
    with pytest.raises(InputError, match="no body voxels"):
        mine_volume_pairs(
            RegistrationMatcher(),
            blank,
            [shifted],
            points_per_partner=4,
            rng=np.random.default_rng(),
        )


def test_a_refused_partner_gives_no_pairs_but_a_valid_result(volumes):
    source, _, blank = volumes
    matcher = RegistrationMatcher()
    pairs = mine_volume_pairs(
        matcher, source, [blank], points_per_partner=8, rng=np.random.default_rng(3)
    )
    assert pairs.count == 0 and pairs.refused == 8 and pairs.source_vox.shape == (0, 3)
    assert [target for _, target, _ in matcher.failures] == ["blank"]


def test_partners_are_deterministic_never_the_source_and_vary_by_source():
    keys = [f"k{i:02d}" for i in range(20)]
    chosen = {key: choose_partners(keys, key, 4, seed=0) for key in keys}
    for key, partners in chosen.items():
        assert len(partners) == len(set(partners)) == 4 and key not in partners
        assert set(partners) <= set(keys)
        assert choose_partners(list(reversed(keys)), key, 4, seed=0) == partners
    assert len({tuple(partners) for partners in chosen.values()}) > 15
    assert choose_partners(keys, "k00", 4, seed=1) != chosen["k00"]
    assert sorted(choose_partners(keys[:3], "k00", 4, seed=0)) == ["k01", "k02"]
    assert choose_partners(["k00"], "k00", 4, seed=0) == []
