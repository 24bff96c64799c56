"""Random MRI appearance: tissue contrast, gamma, bias field, intensity scale and Rician noise.

Parameters are drawn once (`MriAppearance.sample`), then applied by pure functions, so a subject's
appearance can be replayed: contrast changes act on the template (before the deformation, they
belong to the tissue), the bias field and the noise act on the subject's grid (they belong to the
scanner).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from anatomy_ssl.phantoms.corner_aligned_upsampling import upsample_corner_aligned


@dataclass(frozen=True, eq=False)
class MriAppearance:
    """One subject's appearance parameters.

    Attributes:
        tissue_gain: multipliers of the T1 intensity in (CSF / other, grey matter, white matter);
            white matter's is 1 (the others are relative to it).
        gamma: exponent applied to the [0, 1] contrast-changed image.
        intensity_scale: intensity of a [0, 1] image value of 1 (white matter is about 0.87).
        log_bias_control: `(1, n, n, n)` log of the multiplicative bias field at control points
            spanning the field of view.
        log_bias_limit: bound of the log bias field, `log(1 + bias_strength)`.
        noise_sigma: standard deviation of each Gaussian channel of the Rician noise, in the
            output intensity unit.
    """

    tissue_gain: tuple[float, float, float]
    gamma: float
    intensity_scale: float
    log_bias_control: np.ndarray
    log_bias_limit: float
    noise_sigma: float

    @classmethod
    def sample(
        cls,
        rng: np.random.Generator,
        *,
        contrast_sd: float = 0.08,
        gamma_sd: float = 0.1,
        bias_strength: float = 0.15,
        noise_fraction: float = 0.03,
        intensity_range: tuple[float, float] = (700.0, 1000.0),
        bias_control_points: int = 4,
    ) -> MriAppearance:
        """Draw appearance parameters.

        Args:
            rng: the random stream.
            contrast_sd: standard deviation of the CSF and grey-matter gains (relative to WM).
            gamma_sd: standard deviation of log(gamma).
            bias_strength: the bias field stays within [1 / (1 + s), 1 + s].
            noise_fraction: largest noise sigma as a fraction of `intensity_scale` (drawn
                uniformly between half of it and all of it).
            intensity_range: range of `intensity_scale`.
            bias_control_points: control points per axis of the bias field.
        """
        csf_gain, grey_gain = 1.0 + rng.normal(0.0, contrast_sd, size=2)
        gamma = float(np.exp(rng.normal(0.0, gamma_sd)))
        scale = float(rng.uniform(*intensity_range))
        limit = float(np.log1p(bias_strength))
        log_bias = limit * rng.uniform(-1.0, 1.0, size=(1, *(bias_control_points,) * 3))
        noise = float(rng.uniform(0.5, 1.0)) * noise_fraction * scale
        return cls(
            (float(max(csf_gain, 0.1)), float(max(grey_gain, 0.1)), 1.0),
            gamma,
            scale,
            log_bias,
            limit,
            noise,
        )

    def tissue_contrast(
        self, t1: np.ndarray, grey_matter: np.ndarray, white_matter: np.ndarray
    ) -> np.ndarray:
        """Change the template's contrast per tissue, then apply gamma.

        Args:
            t1: `(X, Y, Z)` T1 intensity in [0, 1].
            grey_matter: `(X, Y, Z)` grey-matter probability.
            white_matter: `(X, Y, Z)` white-matter probability.

        Returns:
            `(X, Y, Z)` float32 image in [0, 1].
        """
        other = np.clip(1.0 - grey_matter - white_matter, 0.0, 1.0)
        csf_gain, grey_gain, white_gain = self.tissue_gain
        gain = csf_gain * other + grey_gain * grey_matter + white_gain * white_matter
        return np.asarray(np.clip(t1 * gain, 0.0, 1.0) ** self.gamma, dtype=np.float32)

    def bias_field(self, size_vox: tuple[int, int, int]) -> np.ndarray:
        """`(X, Y, Z)` float32 smooth multiplicative bias field.

        The log field is the cubic interpolation of the control values, softly limited (tanh) to
        their largest possible magnitude, so the field stays within the sampled strength where a
        spline would overshoot it.
        """
        log_field = upsample_corner_aligned(self.log_bias_control, size_vox, order=3)[0]
        limit = np.float32(max(self.log_bias_limit, 1e-6))
        return np.exp(limit * np.tanh(log_field / limit)).astype(np.float32)

    def acquire(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Scanner effects on a `(X, Y, Z)` [0, 1] image: bias, intensity scale, Rician noise.

        Args:
            image: `(X, Y, Z)` image in [0, 1] on the subject's grid.
            rng: the noise stream.

        Returns:
            `(X, Y, Z)` float32 magnitude image (>= 0), about 0..`intensity_scale`.
        """
        x, y, z = image.shape
        clean = image * self.bias_field((x, y, z)) * np.float32(self.intensity_scale)
        # Magnitude of a complex signal with Gaussian noise on both channels (Rician).
        sigma = np.float32(self.noise_sigma)
        real = clean + sigma * rng.standard_normal(image.shape, dtype=np.float32)
        imaginary = sigma * rng.standard_normal(image.shape, dtype=np.float32)
        return np.hypot(real, imaginary).astype(np.float32)
