"""Random augmentation as sampled parameters plus pure ops, and masks for masked modeling."""

from anatomy_ssl.transforms.augmentation_params import AugmentationParams, sample_augmentation
from anatomy_ssl.transforms.augmentation_spec import AugmentationSpec
from anatomy_ssl.transforms.batch_augmentation import apply_augmentation
from anatomy_ssl.transforms.block_masking import random_block_mask

__all__ = [
    "AugmentationParams",
    "AugmentationSpec",
    "apply_augmentation",
    "random_block_mask",
    "sample_augmentation",
]
