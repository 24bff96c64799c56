"""Header faults nibabel would repair or trust: zero / negative pixdim, implausible dimensions."""

from __future__ import annotations

import gzip
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import pytest

from anatomy_ssl.errors import InputError
from anatomy_ssl.io.nifti_header_checks import check_data_size, check_header_spacing
from anatomy_ssl.io.nifti_reader import read_nifti


def _edit_header(path: Path, header_class: type = nib.Nifti1Header, **fields: Any) -> Path:
    """Overwrite header fields on disk, bypassing nibabel's checks; the voxels stay as written."""
    opener: Callable[..., Any] = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rb") as handle:
        raw = handle.read()
    size = header_class.template_dtype.itemsize
    header = header_class(raw[:size], check=False)
    for name, value in fields.items():
        header[name] = value
    with opener(path, "wb") as handle:
        handle.write(header.binaryblock + raw[size:])
    return path


def _qform_only(path: Path, spacing: tuple[float, float, float]) -> Path:
    """A (3, 4, 5) float32 file whose geometry comes from the qform (and so from pixdim)."""
    data = np.arange(60, dtype=np.float32).reshape(3, 4, 5)
    image = nib.Nifti1Image(data, np.diag([*spacing, 1.0]))
    image.set_sform(None, code=0)
    image.set_qform(np.diag([*spacing, 1.0]), code="scanner")
    nib.save(image, path)
    return path


@pytest.mark.parametrize("name", ["zero.nii", "zero.nii.gz"])
def test_zero_pixdim_is_refused_naming_the_file_and_spacing(tmp_path: Path, name: str) -> None:
    path = _edit_header(
        _qform_only(tmp_path / name, (2.0, 2.0, 2.0)), pixdim=[1, 2, 0, 2, 1, 1, 1, 1]
    )
    with pytest.raises(InputError, match="zero voxel spacing") as caught:
        read_nifti(path)  # nibabel alone reads this as 1 mm along the second axis
    message = str(caught.value)
    assert message.startswith(str(path)) and "(2.0, 0.0, 2.0)" in message


def test_zero_pixdim_of_a_single_slice_axis_is_not_used_so_it_is_accepted(
    tmp_path: Path, write_nib: Callable
) -> None:
    data = np.arange(20, dtype=np.float32).reshape(4, 5, 1)
    path = _edit_header(
        write_nib(tmp_path / "slice.nii", data, np.eye(4)), pixdim=[1, 0.5, 0.5, 0, 1, 1, 1, 1]
    )
    check_header_spacing(path, nib.load(path))
    assert read_nifti(path).array.shape == (1, 4, 5, 1)


def test_negative_pixdim_is_read_as_its_absolute_value_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = _edit_header(
        _qform_only(tmp_path / "neg.nii", (2.0, 3.0, 4.0)), pixdim=[1, 2, -3, 4, 1, 1, 1, 1]
    )
    with caplog.at_level(logging.WARNING):
        volume = read_nifti(path)
    assert volume.spacing_mm == (2.0, 3.0, 4.0)
    warnings = [r.getMessage() for r in caplog.records if r.name.startswith("anatomy_ssl")]
    assert len(warnings) == 1
    assert str(path) in warnings[0] and "negative voxel spacing" in warnings[0]
    assert "(2.0, -3.0, 4.0)" in warnings[0]


@pytest.mark.parametrize(
    ("header_class", "image_class", "side"),
    [(nib.Nifti1Header, nib.Nifti1Image, 32767), (nib.Nifti2Header, nib.Nifti2Image, 100000)],
)
@pytest.mark.parametrize("suffix", [".nii", ".nii.gz"])
def test_implausible_dimensions_are_refused_before_any_voxel_is_read(
    tmp_path: Path, header_class: type, image_class: type, side: int, suffix: str
) -> None:
    path = tmp_path / f"huge{suffix}"
    nib.save(image_class(np.ones((2, 2, 2), np.float32), np.eye(4)), path)
    _edit_header(path, header_class, dim=[3, side, side, side, 1, 1, 1, 1])
    assert path.stat().st_size < 1000
    with pytest.raises(InputError, match="implausible dimensions") as caught:
        read_nifti(path)  # nibabel alone raises MemoryError allocating the array
    message = str(caught.value)
    assert message.startswith(str(path))
    assert f"{side} x {side} x {side} voxels of float32" in message
    assert f"{side**3 * 4:,} bytes" in message


def test_a_complete_file_passes_the_size_check(tmp_path: Path, write_nib: Callable) -> None:
    data = np.zeros((30, 30, 30), np.float32)  # compresses far: still within gzip's bound
    for name in ("full.nii", "full.nii.gz"):
        path = write_nib(tmp_path / name, data, np.eye(4))
        check_data_size(path, nib.load(path))
