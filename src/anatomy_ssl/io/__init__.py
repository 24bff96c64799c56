"""Reading and writing images, label maps and DICOM series as Volumes (array + RAS affine)."""

from anatomy_ssl.io.dicom_series_reader import DicomSeriesInfo, list_dicom_series
from anatomy_ssl.io.file_formats import FileFormat, detect_format
from anatomy_ssl.io.nifti_writer import write_nifti
from anatomy_ssl.io.source_hash import source_hash
from anatomy_ssl.io.volume import Volume
from anatomy_ssl.io.volume_reader import read_label, read_volume

__all__ = [
    "DicomSeriesInfo",
    "FileFormat",
    "Volume",
    "detect_format",
    "list_dicom_series",
    "read_label",
    "read_volume",
    "source_hash",
    "write_nifti",
]
