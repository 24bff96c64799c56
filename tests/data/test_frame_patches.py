"""Reading frame patches: each patch equals the padded image around its rounded centre, in 2D and
3D, across several volumes and channels, through the memory map only, with clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from anatomy_ssl.data import read_frame_patches
from anatomy_ssl.preprocess import CachedVolume

BACKGROUND = -1.0  # the background value of the `make_entries` fixture's entries


def _expected(volume: CachedVolume, centre, size) -> np.ndarray:
    """`(C, *size)`: the whole image padded with its background, cut around the rounded centre
    (an obviously-correct re-statement, independent of the reader)."""
    image = volume.load_image()
    pad = 64  # more than any centre here lies outside
    padded = np.pad(image, [(0, 0)] + [(pad, pad)] * len(size), constant_values=BACKGROUND)
    starts = np.rint(centre).astype(int) - np.asarray(size) // 2 + pad
    return padded[(slice(None), *(slice(s, s + n) for s, n in zip(starts, size, strict=True)))]


def test_an_interior_patch_is_the_slice_around_its_rounded_centre(entries_3d):
    volumes = [CachedVolume(folder) for folder in entries_3d]
    subjects = np.array([0, 2, 1, 0])
    centres = np.array([[10.3, 9.6, 10.0], [8.0, 11.4, 9.5], [12.0, 9.0, 10.0], [5.0, 6.0, 7.0]])
    patches = read_frame_patches(volumes, subjects, centres, 5)
    assert patches.shape == (4, 1, 5, 5, 5) and patches.dtype == np.float32
    image = volumes[0].load_image()
    np.testing.assert_array_equal(patches[0], image[:, 8:13, 8:13, 8:13])  # rint(9.6) = 10
    for patch, subject, centre in zip(patches, subjects, centres, strict=True):
        np.testing.assert_array_equal(patch, _expected(volumes[subject], centre, (5, 5, 5)))
        assert (patch // 1000 == subject).all()  # the right volume's values


@pytest.mark.parametrize("size", [(4, 4), (5, 3)])
def test_a_border_patch_is_padded_with_the_background_in_2d(make_entries, size):
    volumes = [CachedVolume(folder) for folder in make_entries([(12, 10), (9, 14)], channels=2)]
    subjects = np.array([0, 1, 1, 0])
    centres = np.array([[0.0, 0.0], [8.0, 13.2], [4.0, 6.0], [-30.0, 2.0]])
    patches = read_frame_patches(volumes, subjects, centres, size)
    assert patches.shape == (4, 2, *size)
    for patch, subject, centre in zip(patches, subjects, centres, strict=True):
        np.testing.assert_array_equal(patch, _expected(volumes[subject], centre, size))
    assert (patches[0, :, : size[0] // 2] == BACKGROUND).all()  # rows before the first one
    assert (patches[0, :, size[0] // 2 :, size[1] // 2 :] >= 0).all()  # the image part
    assert (patches[3] == BACKGROUND).all()  # entirely outside


def test_only_the_patch_is_read_never_the_whole_image(entries_3d, monkeypatch):
    volumes = [CachedVolume(folder) for folder in entries_3d]
    expected = read_frame_patches(volumes, np.array([1]), np.array([[3.0, 4.0, 5.0]]), 4)
    loads = np.load

    def mapped_only(*args, **kwargs):
        if kwargs.get("mmap_mode") is None:
            raise AssertionError("the whole image was loaded into memory")
        return loads(*args, **kwargs)

    monkeypatch.setattr(np, "load", mapped_only)
    monkeypatch.setattr(CachedVolume, "load_image", lambda self: pytest.fail("load_image"))
    fresh = [CachedVolume(folder) for folder in entries_3d]  # nothing cached from before
    patches = read_frame_patches(fresh, np.array([1]), np.array([[3.0, 4.0, 5.0]]), 4)
    np.testing.assert_array_equal(patches, expected)


def test_an_empty_batch_gives_no_patch(entries_2d):
    volumes = [CachedVolume(folder) for folder in entries_2d]
    patches = read_frame_patches(volumes, np.zeros(0, np.int64), np.zeros((0, 2)), 3)
    assert patches.shape == (0, 1, 3, 3)


def test_bad_inputs_are_refused_clearly(entries_3d, make_entries):
    volumes = [CachedVolume(folder) for folder in entries_3d]
    centre = np.array([[5.0, 5.0, 5.0]])
    with pytest.raises(ValueError, match=r"subject_index must lie in \[0, 3\)"):
        read_frame_patches(volumes, np.array([3]), centre, 4)
    with pytest.raises(ValueError, match="subject_index must be"):
        read_frame_patches(volumes, np.array([0, 1]), centre, 4)
    with pytest.raises(ValueError, match="non-finite"):
        read_frame_patches(volumes, np.array([0]), np.array([[5.0, np.nan, 5.0]]), 4)
    with pytest.raises(ValueError, match="3D entry needs"):
        read_frame_patches(volumes, np.array([0]), np.array([[5.0, 5.0]]), 4)
    with pytest.raises(ValueError, match="patch_vox"):
        read_frame_patches(volumes, np.array([0]), centre, 0)
    mixed = [*volumes, CachedVolume(make_entries([(8, 8, 8)], channels=2)[0])]
    with pytest.raises(ValueError, match=r"different channel counts \[1, 2\]"):
        read_frame_patches(mixed, np.array([0, 3]), np.repeat(centre, 2, axis=0), 4)
