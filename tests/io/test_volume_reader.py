from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from nibabel.orientations import (
    apply_orientation,
    axcodes2ornt,
    inv_ornt_aff,
    io_orientation,
    ornt_transform,
)
from PIL import Image

from anatomy_ssl.errors import InputError
from anatomy_ssl.io import read_label, read_volume, write_nifti
from anatomy_ssl.io.volume import Volume


def _reoriented(
    data: np.ndarray, affine: np.ndarray, codes: tuple[str, str, str]
) -> tuple[np.ndarray, np.ndarray]:
    """The same physical volume stored with voxel axes pointing along `codes` (nibabel)."""
    transform = ornt_transform(io_orientation(affine), axcodes2ornt(codes))
    return apply_orientation(data, transform), affine @ inv_ornt_aff(transform, data.shape)


ORIENTATIONS = [("R", "A", "S"), ("L", "P", "S"), ("L", "A", "S"), ("S", "R", "P")]


class TestSamePhysicalVolumeWhateverTheFile:
    """One physical volume, stored in several orientations and formats, reads the same."""

    @pytest.mark.parametrize("codes", ORIENTATIONS)
    @pytest.mark.parametrize("oblique", [False, True])
    @pytest.mark.parametrize("suffix", [".nii.gz", ".nrrd", ".mha"])
    def test_voxels_land_on_the_same_world_points(
        self,
        tmp_path: Path,
        codes: tuple[str, str, str],
        oblique: bool,
        suffix: str,
        phantom_data: np.ndarray,
        phantom_affine: np.ndarray,
        write_nib: Callable,
        write_itk: Callable,
        assert_same_physical: Callable,
    ) -> None:
        rotation = np.eye(4)
        if oblique:
            angle = np.deg2rad(20)
            rotation[1:3, 1:3] = [[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]
        reference = Volume(array=phantom_data[None], affine=rotation @ phantom_affine)
        data, affine = _reoriented(phantom_data, reference.affine, codes)
        path = tmp_path / f"v{suffix}"
        (write_nib if suffix == ".nii.gz" else write_itk)(path, data, affine)
        volume = read_volume(path)
        assert_same_physical(reference, volume)
        assert volume.size_vox == data.shape
        # a known voxel: value 100 + index (1, 2, 3) sits at the same world point
        known = 100.0 + np.ravel_multi_index((1, 2, 3), phantom_data.shape)
        where = np.argwhere(volume.array[0] == known)[0]
        np.testing.assert_allclose(
            volume.affine @ [*where, 1], reference.affine @ [1, 2, 3, 1], atol=1e-4
        )

    @pytest.mark.parametrize("itk_suffix", [".nrrd", ".mha"])
    def test_itk_files_agree_with_itks_own_nifti(
        self,
        tmp_path: Path,
        itk_suffix: str,
        make_itk_image: Callable,
        phantom_data: np.ndarray,
        phantom_affine: np.ndarray,
        assert_same_physical: Callable,
    ) -> None:
        """Independent oracle: ITK converts LPS to RAS itself when writing NIfTI, and the
        NIfTI is then read by nibabel, so no LPS code of this package is involved."""
        angle = np.deg2rad(35)
        turn = np.eye(4)
        turn[:2, :2] = [[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]
        image = make_itk_image(phantom_data, turn @ phantom_affine[:, [1, 2, 0, 3]])
        sitk.WriteImage(image, str(tmp_path / f"v{itk_suffix}"))
        sitk.WriteImage(image, str(tmp_path / "v.nii.gz"))
        via_itk = read_volume(tmp_path / f"v{itk_suffix}")
        via_nibabel = read_volume(tmp_path / "v.nii.gz")
        np.testing.assert_allclose(via_itk.affine, via_nibabel.affine, atol=1e-4)
        assert_same_physical(via_itk, via_nibabel)

    def test_dicom_series_agrees_with_its_nifti_export(
        self, tmp_path: Path, write_dicom_series: Callable, assert_same_physical: Callable
    ) -> None:
        write_dicom_series(tmp_path / "series", orientation=(0, 1, 0, 0, 0, -1))  # sagittal
        series = read_volume(tmp_path / "series")
        exported = read_volume(write_nifti(series, tmp_path / "series.nii.gz"))
        assert_same_physical(series, exported)


class TestTwoD:
    def test_single_dicom_slice_squeezes_to_rows_and_columns(self, ct_small_path: Path) -> None:
        volume = read_volume(ct_small_path, spatial_dims=2)
        ds = pydicom.dcmread(ct_small_path)
        expected = ds.pixel_array.astype(np.int32) + int(ds.RescaleIntercept)
        assert volume.array.shape == (1, 128, 128)
        np.testing.assert_array_equal(volume.array[0], expected)
        spacing = float(ds.PixelSpacing[0])
        x0, y0 = (float(v) for v in ds.ImagePositionPatient[:2])
        np.testing.assert_allclose(
            volume.affine, [[0, spacing, x0], [spacing, 0, y0], [0, 0, 1]], atol=1e-6
        )

    def test_png_and_dicom_radiograph_share_the_layout(
        self, tmp_path: Path, ct_small_path: Path
    ) -> None:
        dicom = read_volume(ct_small_path, spatial_dims=2)
        pixels = dicom.array[0] - dicom.array[0].min()
        Image.fromarray((pixels // 8).astype(np.uint8)).save(tmp_path / "same.png")
        png = read_volume(tmp_path / "same.png", spatial_dims=2)
        np.testing.assert_array_equal(png.array[0], (pixels // 8).astype(np.uint8))
        # same (row, col) -> (x, y) axes up to spacing and origin
        np.testing.assert_array_equal(np.sign(png.affine[:2, :2]), np.sign(dicom.affine[:2, :2]))

    def test_2d_image_where_3d_is_required(self, tmp_path: Path) -> None:
        Image.fromarray(np.arange(20, dtype=np.uint8).reshape(4, 5)).save(tmp_path / "x.png")
        with pytest.raises(InputError, match="2D image where a 3D volume is required") as caught:
            read_volume(tmp_path / "x.png")
        assert str(tmp_path / "x.png") in str(caught.value)

    def test_single_slice_where_3d_is_required(self, ct_small_path: Path) -> None:
        with pytest.raises(InputError, match="2D image where a 3D volume is required"):
            read_volume(ct_small_path, spatial_dims=3)

    def test_3d_volume_where_2d_is_required(
        self, tmp_path: Path, phantom_data: np.ndarray, write_nib: Callable
    ) -> None:
        path = write_nib(tmp_path / "v.nii.gz", phantom_data, np.eye(4))
        with pytest.raises(InputError, match="3D volume where a 2D image is required") as caught:
            read_volume(path, spatial_dims=2)
        assert str(path) in str(caught.value)

    def test_single_file_series_reads_as_2d(self, tmp_path: Path, ct_small_path: Path) -> None:
        shutil.copy(ct_small_path, tmp_path / "one.dcm")
        assert read_volume(tmp_path, spatial_dims=2).array.shape == (1, 128, 128)


class TestBadInput:
    def test_missing_file(self, tmp_path: Path) -> None:
        with pytest.raises(InputError, match="file not found") as caught:
            read_volume(tmp_path / "absent.nii.gz")
        assert str(tmp_path / "absent.nii.gz") in str(caught.value)

    def test_unknown_format_lists_the_supported_ones(self, tmp_path: Path) -> None:
        (tmp_path / "scan.txt").write_text("hello")
        with pytest.raises(InputError, match="not a supported image") as caught:
            read_volume(tmp_path / "scan.txt")
        assert ".nii.gz" in str(caught.value) and ".nrrd" in str(caught.value)

    def test_folder_without_dicom(self, tmp_path: Path) -> None:
        with pytest.raises(InputError, match="not a supported image"):
            read_volume(tmp_path)

    def test_random_bytes_named_nii_gz(self, tmp_path: Path) -> None:
        path = tmp_path / "noise.nii.gz"
        path.write_bytes(np.random.default_rng(3).bytes(4096))
        with pytest.raises(InputError, match="corrupt or truncated") as caught:
            read_volume(path)
        assert str(path) in str(caught.value)

    def test_truncated_nii_gz(
        self, tmp_path: Path, write_nib: Callable, phantom_affine: np.ndarray
    ) -> None:
        data = np.random.default_rng(4).normal(size=(20, 20, 20)).astype(np.float32)
        whole = write_nib(tmp_path / "whole.nii.gz", data, phantom_affine).read_bytes()
        path = tmp_path / "half.nii.gz"
        path.write_bytes(whole[: len(whole) // 2])
        with pytest.raises(InputError, match="corrupt or truncated") as caught:
            read_volume(path)
        assert str(path) in str(caught.value)

    def test_text_file_named_nrrd(self, tmp_path: Path) -> None:
        path = tmp_path / "fake.nrrd"
        path.write_text("NOT AN IMAGE\n")
        with pytest.raises(InputError, match="corrupt, truncated or not a NRRD image") as caught:
            read_volume(path)
        assert str(path) in str(caught.value)

    def test_truncated_dicom(self) -> None:
        path = pydicom.data.get_testdata_file("MR_truncated.dcm")
        with pytest.raises(InputError, match="corrupt, truncated") as caught:
            read_volume(path, spatial_dims=2)
        assert str(path) in str(caught.value)

    def test_4d_nifti_refused_picked_or_kept(self, nibabel_data: Path) -> None:
        path = nibabel_data / "example4d.nii.gz"
        with pytest.raises(InputError, match="T=2"):
            read_volume(path)
        assert read_volume(path, channel=0).num_channels == 1
        assert read_volume(path, channel="all").num_channels == 2

    def test_nan_voxels(
        self, tmp_path: Path, write_nib: Callable, phantom_data: np.ndarray
    ) -> None:
        phantom_data[1, 1, 1] = np.nan
        path = write_nib(tmp_path / "nan.nii.gz", phantom_data, np.eye(4))
        with pytest.raises(InputError, match="1 NaN") as caught:
            read_volume(path)
        assert str(path) in str(caught.value)

    def test_inf_voxels(
        self, tmp_path: Path, write_nib: Callable, phantom_data: np.ndarray
    ) -> None:
        phantom_data[1, 1, 1] = np.inf
        with pytest.raises(InputError, match="1 infinite"):
            read_volume(write_nib(tmp_path / "inf.nii.gz", phantom_data, np.eye(4)))

    def test_constant_image(self, tmp_path: Path, write_nib: Callable) -> None:
        path = write_nib(tmp_path / "c.nii.gz", np.full((4, 5, 6), 7.5, np.float32), np.eye(4))
        with pytest.raises(InputError, match=r"constant image: every voxel is 7\.5"):
            read_volume(path)

    @pytest.mark.parametrize(
        ("spacing", "phrase"),
        [(0.0, "zero voxel spacing"), (0.001, "implausible voxel spacing"), (500.0, "implausible")],
    )
    def test_bad_spacing(
        self,
        tmp_path: Path,
        phantom_data: np.ndarray,
        spacing: float,
        phrase: str,
    ) -> None:
        path = tmp_path / "s.nii.gz"
        image = nib.Nifti1Image(phantom_data, None)
        image.set_sform(np.diag([1.0, 1.0, spacing, 1.0]), code="aligned")
        nib.save(image, path)
        with pytest.raises(InputError, match=phrase) as caught:
            read_volume(path)
        assert str(path) in str(caught.value)

    def test_zero_size_axis(self, tmp_path: Path, write_nib: Callable) -> None:
        path = write_nib(tmp_path / "empty.nii", np.zeros((4, 0, 3), np.float32), np.eye(4))
        with pytest.raises(InputError, match="zero-size axis"):
            read_volume(path)

    def test_options_that_do_not_apply(self, tmp_path: Path, ct_small_path: Path) -> None:
        with pytest.raises(InputError, match="channel= applies to 4D NIfTI"):
            read_volume(ct_small_path, spatial_dims=2, channel=0)
        with pytest.raises(InputError, match="series_uid= applies to DICOM folders"):
            read_volume(ct_small_path, spatial_dims=2, series_uid="1.2")


class TestLabels:
    @pytest.fixture
    def image(
        self,
        tmp_path: Path,
        phantom_data: np.ndarray,
        phantom_affine: np.ndarray,
        write_nib: Callable,
    ) -> Volume:
        return read_volume(write_nib(tmp_path / "img.nii.gz", phantom_data, phantom_affine))

    def test_label_in_another_format_and_orientation(
        self,
        tmp_path: Path,
        image: Volume,
        phantom_affine: np.ndarray,
        write_itk: Callable,
    ) -> None:
        labels = np.zeros((6, 7, 8), np.uint8)
        labels[2:4, 1:5, 3:6] = 2
        path = write_itk(tmp_path / "seg.nrrd", labels, phantom_affine)
        label = read_label(path, image=image)
        assert label.array.dtype == np.uint8
        np.testing.assert_array_equal(label.array[0], labels)

    def test_integer_valued_float_labels(
        self, tmp_path: Path, image: Volume, phantom_affine: np.ndarray, write_nib: Callable
    ) -> None:
        labels = np.zeros((6, 7, 8), np.float32)
        labels[0, 0, 0] = 3.0
        label = read_label(write_nib(tmp_path / "f.nii.gz", labels, phantom_affine), image=image)
        assert label.array.dtype == np.uint8 and label.array.max() == 3

    def test_all_background_label_is_fine(
        self, tmp_path: Path, image: Volume, phantom_affine: np.ndarray, write_nib: Callable
    ) -> None:
        path = write_nib(tmp_path / "z.nii.gz", np.zeros((6, 7, 8), np.uint8), phantom_affine)
        assert read_label(path, image=image).array.max() == 0

    def test_non_integer_label(
        self, tmp_path: Path, image: Volume, phantom_affine: np.ndarray, write_nib: Callable
    ) -> None:
        labels = np.full((6, 7, 8), 0.25, np.float32)
        path = write_nib(tmp_path / "p.nii.gz", labels, phantom_affine)
        with pytest.raises(InputError, match="non-integer label values") as caught:
            read_label(path, image=image)
        assert str(path) in str(caught.value)

    def test_negative_label_names_the_file_and_the_values(
        self, tmp_path: Path, image: Volume, phantom_affine: np.ndarray, write_nib: Callable
    ) -> None:
        labels = np.zeros((6, 7, 8), np.int16)
        labels[1:3, 1:3, 1:3] = -1  # an "ignore" marker is not a class index
        path = write_nib(tmp_path / "ignore.nii.gz", labels, phantom_affine)
        with pytest.raises(InputError, match=r"negative label values \(-1\) in 8 voxel") as caught:
            read_label(path, image=image)
        assert str(caught.value).startswith(str(path))

    def test_shape_mismatch(
        self, tmp_path: Path, image: Volume, phantom_affine: np.ndarray, write_nib: Callable
    ) -> None:
        path = write_nib(tmp_path / "s.nii.gz", np.zeros((6, 7, 9), np.uint8), phantom_affine)
        with pytest.raises(InputError, match="does not match the image's spatial shape") as caught:
            read_label(path, image=image)
        assert str(path) in str(caught.value)

    def test_affine_mismatch(
        self, tmp_path: Path, image: Volume, phantom_affine: np.ndarray, write_nib: Callable
    ) -> None:
        shifted = phantom_affine.copy()
        shifted[0, 3] += 1.5
        path = write_nib(tmp_path / "a.nii.gz", np.zeros((6, 7, 8), np.uint8), shifted)
        with pytest.raises(InputError, match="label geometry does not match") as caught:
            read_label(path, image=image)
        assert str(path) in str(caught.value) and "origins differ by 1.5 mm" in str(caught.value)

    def test_2d_palette_label_for_a_2d_image(self, tmp_path: Path) -> None:
        Image.fromarray(np.arange(12, dtype=np.uint8).reshape(3, 4)).save(tmp_path / "img.png")
        mask = Image.fromarray(np.array([[0, 1, 1, 0]] * 3, np.uint8), mode="P")
        mask.putpalette([0, 0, 0, 255, 255, 255])
        mask.save(tmp_path / "mask.png")
        image = read_volume(tmp_path / "img.png", spatial_dims=2)
        label = read_label(tmp_path / "mask.png", image=image)
        np.testing.assert_array_equal(label.array[0], [[0, 1, 1, 0]] * 3)

    def test_2d_label_for_a_3d_image(self, tmp_path: Path, image: Volume) -> None:
        Image.fromarray(np.zeros((6, 7), np.uint8)).save(tmp_path / "m.png")
        with pytest.raises(InputError, match="label is 2D but the image is 3D"):
            read_label(tmp_path / "m.png", image=image)
