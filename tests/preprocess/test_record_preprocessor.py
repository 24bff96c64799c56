"""One record in, one outcome out: bad inputs are rejected with a reason, never cached."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np

from anatomy_ssl.io import Volume, write_nifti
from anatomy_ssl.manifests import ManifestRecord
from anatomy_ssl.preprocess import PreprocessSpec
from anatomy_ssl.preprocess.record_preprocessor import preprocess_record

SPEC = PreprocessSpec(intensity="none")
AFFINE = np.diag([2.0, 2.0, 2.0, 1.0])


def _image(path: Path) -> Path:
    """A (1, 6, 7, 8) float32 image with distinct voxel values."""
    array = np.arange(6 * 7 * 8, dtype=np.float32).reshape(1, 6, 7, 8)
    write_nifti(Volume(array, AFFINE), path)
    return path


def _cached_files(cache: Path) -> list[Path]:
    """Label arrays written anywhere under the cache folder."""
    return sorted(cache.rglob("label.npy"))


def test_a_good_record_is_written(tmp_path: Path) -> None:
    label = np.zeros((1, 6, 7, 8), np.int16)
    label[0, 2:4, 2:4, 2:4] = 3
    write_nifti(Volume(label, AFFINE), tmp_path / "label.nii.gz")
    record = ManifestRecord(_image(tmp_path / "image.nii.gz"), tmp_path / "label.nii.gz", "s0")
    outcome = preprocess_record(record, SPEC, str(tmp_path / "cache"))
    assert outcome.status == "written", outcome.reason
    assert [p.name for p in _cached_files(tmp_path / "cache")] == ["label.npy"]


def test_negative_labels_are_rejected_naming_the_label_file_and_not_cached(
    tmp_path: Path,
) -> None:
    label = np.zeros((1, 6, 7, 8), np.int16)
    label[0, 2:4, 2:4, 2:4] = 3
    label[0, 0, 0, :2] = -1  # an "ignore" marker is not a class index
    label_path = tmp_path / "label.nii.gz"
    write_nifti(Volume(label, AFFINE), label_path)
    record = ManifestRecord(_image(tmp_path / "image.nii.gz"), label_path, "s0")
    outcome = preprocess_record(record, SPEC, str(tmp_path / "cache"))
    assert outcome.status == "rejected" and outcome.reason is not None
    assert outcome.reason.startswith(str(label_path))
    assert "negative label values (-1) in 2 voxel(s)" in outcome.reason
    assert _cached_files(tmp_path / "cache") == []


def test_a_header_with_implausible_dimensions_is_a_reject_not_a_memory_error(
    tmp_path: Path,
) -> None:
    path = tmp_path / "huge.nii"
    nib.save(nib.Nifti1Image(np.ones((2, 2, 2), np.float32), np.eye(4)), path)
    raw = path.read_bytes()
    header = nib.Nifti1Header(raw[:348], check=False)
    header["dim"] = [3, 32767, 32767, 32767, 1, 1, 1, 1]
    path.write_bytes(header.binaryblock + raw[348:])
    outcome = preprocess_record(ManifestRecord(path, None, "huge"), SPEC, str(tmp_path / "cache"))
    assert outcome.status == "rejected" and outcome.reason is not None
    assert outcome.reason.startswith(f"{path}: implausible dimensions")
    assert "MemoryError" not in outcome.reason
