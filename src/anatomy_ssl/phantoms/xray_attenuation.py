"""X-ray physics of a radiograph made from a CT: Hounsfield units -> attenuation -> display.

Hounsfield units are defined from linear attenuation: HU = 1000 (mu - mu_water) / mu_water
(air at -1000 HU has mu = 0), so mu = mu_water (1 + HU / 1000); dense bone's extra attenuation
is already in its HU. A single effective energy (monoenergetic beam, no scatter) is assumed.
Along a ray, the detector sees I = I0 exp(-integral of mu dl); a clinical display shows the log
signal `-ln(I / I0)` (the optical depth, the line integral itself) through a window, so tissue
that absorbs more looks brighter: bone and soft tissue white, air-filled lungs dark.
"""

from __future__ import annotations

import numpy as np

#: Linear attenuation of water at an effective energy of about 70 keV, in 1/mm
#: (NIST XCOM: mass attenuation 0.194 cm^2/g at 70 keV, density 1 g/cm^3).
MU_WATER_PER_MM = 0.0194


def hu_to_attenuation(hu: np.ndarray, *, mu_water_per_mm: float = MU_WATER_PER_MM) -> np.ndarray:
    """Linear attenuation coefficients of a CT image.

    Args:
        hu: array of any shape, Hounsfield units.
        mu_water_per_mm: attenuation of water at the beam's effective energy, 1/mm.

    Returns:
        float32 array of the same shape, 1/mm: `mu_water (1 + HU / 1000)`, clipped at 0 (noise
        in air goes below -1000 HU, and attenuation is never negative).
    """
    mu = np.asarray(hu, dtype=np.float32) * np.float32(mu_water_per_mm / 1000.0)
    mu += np.float32(mu_water_per_mm)
    return np.maximum(mu, np.float32(0.0), out=mu)


def line_integral_to_display(
    line_integral: np.ndarray, *, white_level: float | None = None
) -> tuple[np.ndarray, float]:
    """Window the log signal (optical depth) of a radiograph linearly into [0, 1].

    Args:
        line_integral: array of any shape, dimensionless optical depth `integral of mu dl`.
        white_level: optical depth shown as 1.0 (larger values are clipped); None takes the
            image's maximum, as a display's automatic window does, so nothing is clipped.

    Returns:
        float32 display intensity of the same shape (0 = no attenuation, black; 1 = white), and
        the white level used; where not clipped, `display * white_level` is the optical depth.

    Raises:
        ValueError: `white_level` is not positive.
    """
    if white_level is None:
        peak = float(np.max(line_integral)) if line_integral.size else 0.0
        white_level = peak if peak > 0.0 else 1.0
    elif not white_level > 0.0:
        raise ValueError(f"white_level must be positive, got {white_level}")
    display = np.clip(np.asarray(line_integral, dtype=np.float64) / white_level, 0.0, 1.0)
    return display.astype(np.float32), float(white_level)
