"""Per-sample parameters of one random augmentation, drawn from an AugmentationSpec.

Drawing parameters is the only random step; `apply_augmentation` is a pure function of the
image and these parameters, so a recorded AugmentationParams replays a view exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from anatomy_ssl.transforms.augmentation_spec import AUTO, AugmentationSpec


@dataclass(frozen=True, eq=False)
class AugmentationParams:
    """The augmentation of one view of a batch of B samples with S spatial axes.

    Attributes:
        flips: `(B, S)` bool, mirror sample b along spatial axis s.
        scale: `(B,)` intensity factor.
        shift: `(B,)` intensity offset, added after scaling (intensity units).
        gamma: `(B,)` exponent on min-max normalized channels (1 = unchanged).
        noise_std: `(B,)` standard deviation of additive Gaussian noise (intensity units).
        noise_seed: seed of the torch.Generator that draws the whole batch's noise.
        blur_sigma: `(B,)` Gaussian blur sigma, voxels (0 = no blur).
    """

    flips: np.ndarray
    scale: np.ndarray
    shift: np.ndarray
    gamma: np.ndarray
    noise_std: np.ndarray
    noise_seed: int
    blur_sigma: np.ndarray

    @property
    def batch_size(self) -> int:
        return len(self.scale)

    @property
    def spatial_dims(self) -> int:
        return int(self.flips.shape[1])


def sample_augmentation(
    spec: AugmentationSpec,
    batch_size: int,
    spatial_dims: int,
    rng: np.random.Generator,
) -> AugmentationParams:
    """Draw independent augmentation parameters for each of B samples.

    The same number of values is drawn whatever the spec says, so changing one range does not
    shift the random stream of everything drawn after it.

    Args:
        spec: the ranges.
        batch_size: samples B.
        spatial_dims: spatial axes S (2 or 3).
        rng: source of randomness.

    Returns:
        AugmentationParams with `(B, S)` flips and `(B,)` arrays.

    Raises:
        ValueError: `spec.noise_std_max` is still "auto".
    """
    if spec.noise_std_max == AUTO:
        raise ValueError(
            "noise_std_max='auto' must be resolved from the data before drawing views "
            "(calibrated_augmentation)"
        )
    flips = rng.random((batch_size, spatial_dims)) < spec.flip_probability
    scale = 1.0 + rng.uniform(-spec.intensity_scale, spec.intensity_scale, batch_size)
    shift = rng.uniform(-spec.intensity_shift, spec.intensity_shift, batch_size)
    log_low, log_high = np.log(spec.gamma_range)
    gamma = np.exp(rng.uniform(log_low, log_high, batch_size))
    noise_std = rng.uniform(0.0, spec.noise_std_max, batch_size)
    noise_seed = int(rng.integers(0, np.iinfo(np.int64).max))
    blurred = rng.random(batch_size) < spec.blur_probability
    blur_sigma = np.where(blurred, rng.uniform(0.0, spec.blur_sigma_max_vox, batch_size), 0.0)
    return AugmentationParams(
        flips=flips,
        scale=scale,
        shift=shift,
        gamma=gamma,
        noise_std=noise_std,
        noise_seed=noise_seed,
        blur_sigma=blur_sigma,
    )
