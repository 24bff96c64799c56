import numpy as np
import pytest
import torch

from anatomy_ssl.data.part_view_reader import read_resampled_boxes, resample_to
from anatomy_ssl.preprocess import CachedVolume


def _crop(entry: CachedVolume, start, size) -> np.ndarray:
    """`(C, *size)` float64 crop, padded with the background like the reader."""
    return (
        entry.crops(np.asarray(start)[None], tuple(size), with_label=False).image[0].astype(float)
    )


def _block_mean(x: np.ndarray, factor: int) -> np.ndarray:
    """`(C, *W)` -> `(C, *W / factor)`: mean of each factor^S block."""
    shape = [x.shape[0]]
    for n in x.shape[1:]:
        shape += [n // factor, factor]
    return x.reshape(shape).mean(axis=tuple(range(2, len(shape), 2)))


def _upsample_twice(x: np.ndarray, axis: int) -> np.ndarray:
    """Linear 2x upsampling along `axis` with half-pixel centres (`align_corners=False`): output
    voxel 2i sits at i - 1/4, 2i + 1 at i + 1/4, edges clamped."""
    x = np.moveaxis(x, axis, 0)
    before = np.concatenate([x[:1], x[:-1]])
    after = np.concatenate([x[1:], x[-1:]])
    out = np.empty((2 * len(x), *x.shape[1:]))
    out[0::2] = 0.75 * x + 0.25 * before
    out[1::2] = 0.75 * x + 0.25 * after
    return np.moveaxis(out, 0, axis)


@pytest.fixture(params=[2, 3], ids=["2d", "3d"])
def cases(request, make_entries):
    """(entries, entry_index, starts): three boxes in two 2-channel volumes."""
    if request.param == 3:
        folders = make_entries([(20, 20, 20), (24, 18, 20)], channels=2)
        starts = np.array([[0, 0, 0], [3, 2, 5], [8, 1, 2]])
    else:
        folders = make_entries([(40, 36), (30, 44)], channels=2)
        starts = np.array([[0, 0], [3, 9], [13, 1]])
    return [CachedVolume(f) for f in folders], np.array([0, 1, 1]), starts


def _read(cases, size, out_size):
    entries, index, starts = cases
    sizes = np.tile(size, (len(index), 1))
    out = read_resampled_boxes(entries, index, starts, sizes, out_size)
    crops = [_crop(entries[e], s, size) for e, s in zip(index, starts, strict=True)]
    return out, crops


def test_a_box_of_the_output_size_comes_back_unchanged(cases):
    size = (6,) * cases[2].shape[1]
    out, crops = _read(cases, size, size)
    assert out.dtype == torch.float32 and out.shape == (3, 2, *size)
    for got, want in zip(out, crops, strict=True):
        assert np.array_equal(got.numpy(), want)


def test_a_box_twice_the_output_size_is_area_averaged(cases):
    dims = cases[2].shape[1]
    out, crops = _read(cases, (12,) * dims, (6,) * dims)
    assert out.shape == (3, 2, *(6,) * dims)
    for got, want in zip(out, crops, strict=True):
        np.testing.assert_allclose(got.numpy(), _block_mean(want, 2), rtol=1e-6, atol=1e-3)


def test_a_smaller_box_is_linearly_upsampled_to_the_output_size(cases):
    dims = cases[2].shape[1]
    out, crops = _read(cases, (4,) * dims, (8,) * dims)
    assert out.shape == (3, 2, *(8,) * dims)
    for got, want in zip(out, crops, strict=True):
        for axis in range(1, dims + 1):
            want = _upsample_twice(want, axis)
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-6, atol=1e-3)


def test_a_box_larger_along_one_axis_only_is_interpolated_linearly(cases):
    # Shrinking by exactly 2 with half-pixel centres averages voxel pairs; the other axes grow.
    dims = cases[2].shape[1]
    size, out_size = (12,) + (4,) * (dims - 1), (6,) + (8,) * (dims - 1)
    out, crops = _read(cases, size, out_size)
    assert out.shape == (3, 2, *out_size)
    for got, want in zip(out, crops, strict=True):
        want = 0.5 * (want[:, 0::2] + want[:, 1::2])
        for axis in range(2, dims + 1):
            want = _upsample_twice(want, axis)
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-6, atol=1e-3)


def test_boxes_of_different_sizes_per_sample_share_one_output_size(make_entries):
    entries = [CachedVolume(f) for f in make_entries([(20, 20, 20)])]
    sizes = np.array([[8, 8, 8], [16, 16, 16], [4, 12, 8]])
    out = read_resampled_boxes(entries, np.zeros(3, int), np.zeros((3, 3), int), sizes, (8, 8, 8))
    assert out.shape == (3, 1, 8, 8, 8)
    assert np.array_equal(out[0].numpy(), _crop(entries[0], [0, 0, 0], (8, 8, 8)))


def test_resample_to_the_same_size_is_the_identity():
    x = torch.randn(2, 1, 5, 7)
    assert resample_to(x, (5, 7)) is x
    assert resample_to(x, (10, 14)).shape == (2, 1, 10, 14)


def _reference_boxes(entries, index, starts, sizes, out_size):
    """The plain reader the grouped one must match bit for bit: one read and one resample per
    sample."""
    out = []
    for entry, start, size in zip(index, starts, sizes, strict=True):
        crop = entries[int(entry)].crops(start[None], tuple(int(n) for n in size), with_label=False)
        out.append(resample_to(torch.from_numpy(crop.image).float(), out_size))
    return torch.cat(out)


@pytest.mark.parametrize("out_size", [(8, 8, 8), (6, 10, 7)])
def test_grouped_reads_equal_one_sample_at_a_time_bit_for_bit(make_entries, out_size):
    entries = [CachedVolume(f) for f in make_entries([(20, 20, 20), (24, 18, 20)], channels=2)]
    rng = np.random.default_rng(5)
    index = rng.integers(0, 2, size=16)
    # repeated sizes per volume (as the random-box decomposer draws), some of the output size,
    # larger, smaller and mixed ones, some boxes across the border
    choices = np.array([[8, 8, 8], [6, 10, 7], [12, 12, 12], [4, 5, 6], [9, 4, 16]])
    sizes = choices[rng.integers(0, len(choices), size=16)]
    starts = rng.integers(-3, 14, size=(16, 3))
    got = read_resampled_boxes(entries, index, starts, sizes, out_size)
    want = _reference_boxes(entries, index, starts, sizes, out_size)
    assert got.dtype == torch.float32 and got.shape == want.shape
    assert torch.equal(got, want)


def test_volumes_with_different_channel_counts_are_an_error(make_entries):
    entries = [
        CachedVolume(make_entries([(8, 8, 8)], 1)[0]),
        CachedVolume(make_entries([(8, 8, 8)], 2)[0]),
    ]
    with pytest.raises(ValueError, match="channel"):
        read_resampled_boxes(
            entries, np.array([0, 1]), np.zeros((2, 3), int), np.full((2, 3), 4), (4, 4, 4)
        )
