"""Presets of the atlas-derived MRI builder: grid resolution, deformation and appearance ranges."""

from __future__ import annotations

from dataclasses import dataclass

from anatomy_ssl.errors import ConfigError


@dataclass(frozen=True)
class AtlasMriPreset:
    """How strongly subjects vary, and on which grid they are made.

    Attributes:
        resolution_mm: isotropic voxel size of the subjects.
        velocity_amplitude_mm: standard deviation of each control-point velocity component.
        control_points: velocity control points per axis (5: about 5 cm apart on the brain).
        log_scale_sd: standard deviation of the log of the global brain scale.
        anisotropy_sd: standard deviation of the extra log scale per axis.
        rotation_sd_deg: standard deviation of the global rotation about each axis.
        integration_spacing_mm: grid spacing on which the velocity is integrated (it is smooth,
            so a coarse grid suffices); the maps are then upsampled to the subject grid.
        squaring_steps: scaling-and-squaring steps.
        contrast_sd: standard deviation of the CSF and grey-matter intensity gains.
        gamma_sd: standard deviation of log(gamma).
        bias_strength: bias field control values within +-this fraction.
        noise_fraction: largest Rician noise sigma relative to the intensity scale.
    """

    resolution_mm: float
    velocity_amplitude_mm: float = 3.0
    control_points: int = 5
    log_scale_sd: float = 0.04
    anisotropy_sd: float = 0.02
    rotation_sd_deg: float = 3.0
    integration_spacing_mm: float = 5.0
    squaring_steps: int = 6
    contrast_sd: float = 0.08
    gamma_sd: float = 0.1
    bias_strength: float = 0.15
    noise_fraction: float = 0.03


#: "small": 3 mm grid for tests and smoke runs; "default": 2 mm; "hard": 2 mm with larger
#: deformations, stronger bias, noise and contrast changes.
ATLAS_MRI_PRESETS: dict[str, AtlasMriPreset] = {
    "small": AtlasMriPreset(resolution_mm=3.0),
    "default": AtlasMriPreset(resolution_mm=2.0),
    "hard": AtlasMriPreset(
        resolution_mm=2.0,
        velocity_amplitude_mm=5.0,
        log_scale_sd=0.06,
        anisotropy_sd=0.03,
        rotation_sd_deg=6.0,
        contrast_sd=0.15,
        gamma_sd=0.2,
        bias_strength=0.3,
        noise_fraction=0.06,
    ),
}


def atlas_mri_preset(name: str) -> AtlasMriPreset:
    """The preset called `name`.

    Raises:
        ConfigError: unknown name (the message lists the known ones).
    """
    try:
        return ATLAS_MRI_PRESETS[name]
    except KeyError:
        known = ", ".join(sorted(ATLAS_MRI_PRESETS))
        raise ConfigError(f"unknown atlas MRI preset {name!r}; expected one of {known}") from None
