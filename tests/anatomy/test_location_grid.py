"""DrasCLR's location grid: coverage against a plain loop, the region threshold keeping exactly
the patches it should, the body foreground when no labels are given, geometry, and errors."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from anatomy_ssl.anatomy.location_grid import location_grid, patch_coverage
from anatomy_ssl.errors import ConfigError, InputError
from anatomy_ssl.preprocess import CachedVolume
from anatomy_ssl.preprocess.cache_entry import write_entry

AFFINE = np.array([[2.0, 0, 0, -20.0], [0, 3.0, 0, 10.0], [0, 0, 1.5, -5.0], [0, 0, 0, 1]])


def _entry(folder, name, image, label=None, affine=AFFINE) -> CachedVolume:
    """A cache entry of a `(*size)` image (and `(*size)` label map), background 0."""
    dims = image.ndim
    meta = {
        "key": name,
        "subject_id": name,
        "split": None,
        "affine": np.asarray(affine).tolist(),
        "spacing_mm": np.abs(np.diag(affine)[:dims]).tolist(),
        "size_vox": list(image.shape),
        "background_value": 0.0,
    }
    write_entry(
        folder / "entries" / name,
        folder / ".staging",
        image=image[None].astype(np.float32),
        label=None if label is None else label[None].astype(np.int16),
        meta=meta,
    )
    return CachedVolume(folder / "entries" / name)


def _loop_coverage(mask, starts, patch):
    """The oracle: count each patch's voxels inside the mask one patch at a time."""
    padded_shape = np.asarray(mask.shape)
    out = []
    for start in starts:
        total = 0
        for offset in itertools.product(*[range(p) for p in patch]):
            voxel = np.asarray(start) + offset
            if np.all(voxel >= 0) and np.all(voxel < padded_shape):
                total += bool(mask[tuple(voxel)])
        out.append(total / np.prod(patch))
    return np.array(out)


@pytest.mark.parametrize("shape", [(9, 7, 8), (11, 6)])
def test_patch_coverage_equals_a_plain_loop_even_across_the_border(shape):
    rng = np.random.default_rng(len(shape))
    mask = rng.random(shape) < 0.4
    patch = (3, 4, 2)[: len(shape)]
    starts = rng.integers(-3, np.asarray(shape), size=(25, len(shape)))
    np.testing.assert_allclose(
        patch_coverage(mask, starts, patch), _loop_coverage(mask, starts, patch)
    )


@pytest.fixture
def slab(tmp_path):
    """A (20, 8, 8) reference: label 1 where x < 10, label 2 elsewhere; image all body."""
    label = np.full((20, 8, 8), 2)
    label[:10] = 1
    return _entry(tmp_path, "slab", np.ones((20, 8, 8)), label)


@pytest.mark.parametrize(
    ("labels", "min_coverage", "kept_x_starts"),
    [
        ((1,), 0.5, [0, 4, 8]),  # the patch at x 8..11 is exactly half in the region
        ((1,), 0.51, [0, 4]),
        ((1,), 0.0, [0, 4, 8, 12, 16]),  # every patch that fits is kept
        ((2,), 0.5, [8, 12, 16]),
        ((1, 2), 1.0, [0, 4, 8, 12, 16]),
    ],
)
def test_the_coverage_threshold_keeps_exactly_the_patches_covering_enough(
    slab, labels, min_coverage, kept_x_starts
):
    grid = location_grid(
        slab, patch_vox=4, stride_vox=4, region_labels=labels, min_coverage=min_coverage
    )
    starts = grid.centres_vox - 2
    assert sorted(set(starts[:, 0].tolist())) == kept_x_starts
    assert grid.count == len(kept_x_starts) * 2 * 2  # every (y, z) start: 0 and 4
    assert np.all(grid.coverage >= min_coverage)


def test_without_labels_the_body_foreground_decides_even_when_a_label_map_exists(tmp_path):
    image = np.zeros((16, 16, 16))
    image[2:6, 3:8, 10:14] = 1.0  # the only body: one small box
    label = np.ones((16, 16, 16))  # a label map that covers everything: it must be ignored
    reference = _entry(tmp_path, "box", image, label)
    grid = location_grid(reference, patch_vox=4, stride_vox=2, min_coverage=0.25)
    all_starts = np.stack(np.meshgrid(*[np.arange(0, 13, 2)] * 3, indexing="ij"), axis=-1).reshape(
        -1, 3
    )
    expected = _loop_coverage(image > 0, all_starts, (4, 4, 4))
    np.testing.assert_array_equal(grid.centres_vox - 2, all_starts[expected >= 0.25])
    np.testing.assert_allclose(grid.coverage, expected[expected >= 0.25])
    every = location_grid(reference, patch_vox=4, stride_vox=2, region_labels=[1])
    assert every.count == len(all_starts) > grid.count


def test_centres_are_centred_mapped_to_world_and_normalized(tmp_path):
    reference = _entry(tmp_path, "ref", np.ones((23, 10, 9)))
    grid = location_grid(reference, patch_vox=(5, 4, 9), stride_vox=(6, 3, 1))
    assert grid.patch_vox == (5, 4, 9) and grid.stride_vox == (6, 3, 1)
    # axis 0: starts 0, 6, 12, 18 (18 + 5 = 23); axis 1: (10 - 4) % 3 = 0 -> 0, 3, 6; axis 2: 0
    starts = grid.centres_vox - np.array([5, 4, 9]) // 2
    assert sorted(set(starts[:, 0])) == [0, 6, 12, 18] and sorted(set(starts[:, 1])) == [0, 3, 6]
    assert set(starts[:, 2]) == {0} and grid.count == 12
    homogeneous = np.concatenate([grid.centres_vox, np.ones((grid.count, 1))], axis=1)
    np.testing.assert_allclose(grid.centres_mm, (homogeneous @ AFFINE.T)[:, :3])
    assert grid.normalized.min(axis=0).tolist() == [-1.0, -1.0, 0.0]  # one position along z
    assert grid.normalized.max(axis=0).tolist() == [1.0, 1.0, 0.0]
    order = np.argsort(grid.centres_mm[:, 0])
    assert np.all(np.diff(grid.normalized[order, 0]) >= 0)
    crops = reference.crops_at_centers(grid.centres_vox, grid.patch_vox)
    np.testing.assert_array_equal(crops.start_vox, starts)  # the patch a crop cuts


def test_a_centred_grid_leaves_the_same_margin_at_both_ends(tmp_path):
    reference = _entry(tmp_path, "ref", np.ones((31, 8, 8)))
    grid = location_grid(reference, patch_vox=(8, 8, 8), stride_vox=(7, 8, 8))
    starts = sorted(set((grid.centres_vox[:, 0] - 4).tolist()))
    assert starts == [1, 8, 15, 22]  # 2 voxels left over: 1 before, 31 - (22 + 8) = 1 after


def test_a_2d_grid(tmp_path):
    affine = np.array([[1.0, 0, 0], [0, 1.0, 0], [0, 0, 1]])
    image = np.zeros((12, 10))
    image[:6] = 1.0
    grid = location_grid(_entry(tmp_path, "flat", image, affine=affine), patch_vox=4, stride_vox=2)
    assert grid.centres_mm.shape == (grid.count, 2)
    assert set((grid.centres_vox[:, 0] - 2).tolist()) == {0, 2, 4}  # x start 6: no body


def test_clear_errors(tmp_path, slab):
    unlabelled = _entry(tmp_path, "plain", np.ones((20, 8, 8)))
    with pytest.raises(InputError, match="subject 'plain' has no label map"):
        location_grid(unlabelled, patch_vox=4, stride_vox=4, region_labels=[1])
    with pytest.raises(InputError, match=r"no voxel of the reference is in labels \[7\]"):
        location_grid(slab, patch_vox=4, stride_vox=4, region_labels=[7])
    with pytest.raises(ConfigError, match="does not fit the reference 'slab'"):
        location_grid(slab, patch_vox=9, stride_vox=4)
    with pytest.raises(ConfigError, match="stride_vox must be one int >= 1"):
        location_grid(slab, patch_vox=4, stride_vox=0)
    with pytest.raises(ConfigError, match="min_coverage must be in"):
        location_grid(slab, patch_vox=4, stride_vox=4, min_coverage=1.5)
    corner = np.zeros((20, 8, 8))
    corner[0, 0, 0] = 1.0
    with pytest.raises(InputError, match=r"no patch .* has 50% .* \(best 1\.6%\)") as error:
        location_grid(_entry(tmp_path, "dot", corner), patch_vox=4, stride_vox=4, min_coverage=0.5)
    assert error.value.path.endswith("dot")
