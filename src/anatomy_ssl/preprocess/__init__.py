"""Preprocessing: reorient, resample, crop and normalize volumes into a memory-mapped cache."""

from anatomy_ssl.preprocess.cached_volume import CachedVolume, CropBatch
from anatomy_ssl.preprocess.foreground_crop import CropBox, foreground_box
from anatomy_ssl.preprocess.preprocess_runner import PreprocessSummary, preprocess_dataset
from anatomy_ssl.preprocess.preprocess_spec import PreprocessSpec
from anatomy_ssl.preprocess.random_crop_sampler import random_crop_starts
from anatomy_ssl.preprocess.ras_reorientation import AxisReorientation
from anatomy_ssl.preprocess.shard import Shard
from anatomy_ssl.preprocess.spacing_resampler import ResamplingGrid, resample_to_grid
from anatomy_ssl.preprocess.volume_cache import VolumeCache
from anatomy_ssl.preprocess.volume_preprocessor import PreprocessedVolume, preprocess_volume

__all__ = [
    "AxisReorientation",
    "CachedVolume",
    "CropBatch",
    "CropBox",
    "PreprocessSpec",
    "PreprocessSummary",
    "PreprocessedVolume",
    "ResamplingGrid",
    "Shard",
    "VolumeCache",
    "foreground_box",
    "preprocess_dataset",
    "preprocess_volume",
    "random_crop_starts",
    "resample_to_grid",
]
