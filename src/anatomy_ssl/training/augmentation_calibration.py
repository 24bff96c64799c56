"""Augmentation ranges that follow the data, chosen when a config says "auto".

Rule: the largest noise standard deviation of a view (`data.augmentation.noise_std_max`) is the
median difference between adjacent body voxels of the crops pretraining reads
(`median_neighbour_difference`), never above the usual 0.03. Noise at that strength is as large
as the image's own voxel-to-voxel variation, not several times it: on the CT phantom at 6 mm
(default HU window) the measure is about 0.007, so the noise drops from 0.03 to about 0.007.
Scale, shift and gamma keep the order of intensities within a view and are left as set.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Sequence
from pathlib import Path

from anatomy_ssl.data.voxel_contrast import median_neighbour_difference
from anatomy_ssl.training.pretrain_config import PretrainConfig
from anatomy_ssl.training.pretraining_data import PretrainingData
from anatomy_ssl.transforms import AugmentationSpec
from anatomy_ssl.transforms.augmentation_spec import AUTO

log = logging.getLogger(__name__)

#: The usual upper bound of view noise (cache units), kept for data whose contrast is larger.
USUAL_NOISE_STD_MAX = 0.03


def calibrated_augmentation(
    spec: AugmentationSpec,
    entry_folders: Sequence[str | Path],
    crop_size_vox: int,
    *,
    seed: int = 0,
) -> AugmentationSpec:
    """`spec` with every "auto" range replaced by the value the rule picks for this data.

    Args:
        spec: the configured ranges.
        entry_folders: the cache entries pretraining reads.
        crop_size_vox: the pretraining crop side, voxels.
        seed: where the measuring crops are cut.

    Returns:
        A spec without "auto" values (`spec` itself when it had none).
    """
    if spec.noise_std_max != AUTO:
        return spec
    contrast = median_neighbour_difference(entry_folders, crop_size_vox, seed=seed)
    if math.isnan(contrast):
        log.warning(
            "no body voxels found to measure contrast on; view noise keeps the usual %.3f",
            USUAL_NOISE_STD_MAX,
        )
        noise = USUAL_NOISE_STD_MAX
    else:
        noise = min(contrast, USUAL_NOISE_STD_MAX)
        log.info(
            "adjacent body voxels differ by a median of %.4f: view noise up to %.4f",
            contrast,
            noise,
        )
    return dataclasses.replace(spec, noise_std_max=round(noise, 5))


def with_calibrated_augmentation(config: PretrainConfig, data: PretrainingData) -> PretrainConfig:
    """`config` whose `data.augmentation` has no "auto" left, measured on `data`'s crops."""
    spec = calibrated_augmentation(
        config.data.augmentation,
        data.entry_folders,
        config.data.crop_size_vox,
        seed=config.seed,
    )
    if spec is config.data.augmentation:
        return config
    return dataclasses.replace(config, data=dataclasses.replace(config.data, augmentation=spec))
