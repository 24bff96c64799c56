"""The ranges random view augmentation draws from (the `augmentation` keys of a pretrain config)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

AUTO: Literal["auto"] = "auto"


@dataclass(frozen=True)
class AugmentationSpec:
    """Ranges of the random flips and intensity changes applied to each pretraining view.

    Intensities are in the units of the cache (CT windowed and MRI min-max normalized to [0, 1],
    or z-scores), so shifts and noise are fractions of the normalized range. The defaults are
    mild, anatomy-preserving changes suited to CT and MRI self-supervision (no colour jitter;
    no rotation, which would change what a location means).

    Attributes:
        flip_probability: chance of mirroring a view along each spatial axis, independently.
        intensity_scale: a view's intensities are multiplied by a factor drawn uniformly from
            `[1 - intensity_scale, 1 + intensity_scale]` (0.1 = +/- 10 %); must be < 1.
        intensity_shift: then shifted by a value drawn uniformly from
            `[-intensity_shift, intensity_shift]`, intensity units.
        gamma_range: `(low, high)`, 0 < low <= high: exponent drawn log-uniformly, applied to each
            channel of a crop after min-max normalizing it to [0, 1] (the range is restored).
        noise_std_max: additive Gaussian noise with a standard deviation drawn uniformly from
            `[0, noise_std_max]`, intensity units; "auto" is resolved from the data before
            views are drawn (`training.augmentation_calibration`: at most the median difference
            between adjacent body voxels, never above 0.03).
        blur_sigma_max_vox: Gaussian blur sigma, drawn uniformly from `[0, blur_sigma_max_vox]`
            voxels (the same along every axis) when a view is blurred.
        blur_probability: chance of blurring a view.
    """

    flip_probability: float = 0.5
    intensity_scale: float = 0.1
    intensity_shift: float = 0.1
    gamma_range: tuple[float, float] = (0.7, 1.5)
    noise_std_max: float | Literal["auto"] = 0.03
    blur_sigma_max_vox: float = 1.0
    blur_probability: float = 0.3

    def __post_init__(self) -> None:
        # YAML gives lists; keep the dataclass hashable and its fields one type.
        object.__setattr__(self, "gamma_range", tuple(float(g) for g in self.gamma_range))
        problems = []
        for name in ("flip_probability", "blur_probability"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                problems.append(f"{name} must be in [0, 1]")
        if not 0.0 <= self.intensity_scale < 1.0:
            problems.append("intensity_scale must be in [0, 1)")
        for name in ("intensity_shift", "blur_sigma_max_vox"):
            if getattr(self, name) < 0:
                problems.append(f"{name} must be >= 0")
        if self.noise_std_max != AUTO and not self.noise_std_max >= 0:
            problems.append("noise_std_max must be >= 0 or 'auto'")
        if len(self.gamma_range) != 2 or not 0 < self.gamma_range[0] <= self.gamma_range[1]:
            problems.append("gamma_range must be (low, high) with 0 < low <= high")
        if problems:
            raise ValueError(f"invalid AugmentationSpec: {'; '.join(problems)}")

    @classmethod
    def none(cls) -> AugmentationSpec:
        """A spec whose views come out unchanged (every sampled parameter is the identity)."""
        return cls(
            flip_probability=0.0,
            intensity_scale=0.0,
            intensity_shift=0.0,
            gamma_range=(1.0, 1.0),
            noise_std_max=0.0,
            blur_sigma_max_vox=0.0,
            blur_probability=0.0,
        )
