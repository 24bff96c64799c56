"""Per-subject random parameters of the torso phantom: anatomy, habitus, breathing, acquisition,
disease. Subject k depends only on (seed, k), never on how many subjects are generated."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from anatomy_ssl.phantoms.fourier_displacement import FourierDisplacement

Preset = Literal["small", "default", "hard"]
SUBTYPES = ("centrilobular", "panlobular", "paraseptal")

#: Nominal image size per preset (voxels, RAS order).
PRESET_SIZES: dict[str, tuple[int, int, int]] = {
    "small": (48, 48, 80),
    "default": (96, 96, 128),
    "hard": (96, 96, 128),
}


@dataclass(frozen=True)
class TorsoParameters:
    """Everything random about one subject (all lengths in mm, template space unless noted).

    Attributes:
        scale: `(3,)` habitus scaling template -> subject (width, depth, height).
        fat_mm: subcutaneous fat thickness.
        diaphragm_shift_mm: breathing state; positive = inspiration (domes lower, lungs longer).
        organ_jitter: name -> `(3,)` centre offset (mm); `organ_size` name -> size factor.
        displacement: smooth deformation added in template space.
        fov_z_mm: (bottom, top) template z range imaged; in-plane field of view `fov_xy_mm`.
        slice_spacing_factor: slice spacing / in-plane spacing (anisotropy).
        noise_hu, blur_vox, hu_offset: acquisition.
        severity: latent disease severity in [0, 1]; `subtype`: emphysema pattern.
        nodule_centres_mm, nodule_radii_mm: nodules, inside the lungs (template space).
        age: years. `frailty`: unobserved survival noise.
        disk_axcodes: orientation of the files on disk.
    """

    scale: np.ndarray
    fat_mm: float
    diaphragm_shift_mm: float
    organ_jitter: dict[str, np.ndarray]
    organ_size: dict[str, float]
    displacement: FourierDisplacement
    fov_z_mm: tuple[float, float]
    fov_xy_mm: float
    slice_spacing_factor: float
    noise_hu: float
    blur_vox: float
    hu_offset: float
    severity: float
    subtype: str
    nodule_centres_mm: np.ndarray
    nodule_radii_mm: np.ndarray
    age: float
    frailty: float
    disk_axcodes: tuple[str, str, str]


_JITTERED = ("lungs", "heart", "aorta", "liver", "spleen", "stomach", "kidneys", "spine")
_ORIENTATIONS = [("R", "A", "S"), ("L", "P", "S"), ("L", "A", "S"), ("P", "I", "R")]

# Nodule candidate sites (template mm), inside the lungs away from the hilum.
_NODULE_SITES = np.array(
    [[75, 0, 90], [70, -40, 20], [85, 30, 0], [-75, 0, 90], [-70, -40, 20], [-85, 20, 10]],
    dtype=float,
)


def sample_torso_parameters(seed: int, index: int, preset: Preset = "default") -> TorsoParameters:
    """Draw subject `index`'s parameters; identical for the same (seed, index, preset)."""
    rng = np.random.default_rng([seed, index])
    hard = preset == "hard"
    spread = 1.6 if hard else 1.0
    scale = (
        np.array([rng.uniform(0.9, 1.12), rng.uniform(0.88, 1.15), rng.uniform(0.93, 1.07)])
        ** spread
    )
    jitter = {name: rng.normal(0, 5.0 * spread, size=3) for name in _JITTERED}
    size = {name: float(np.clip(rng.normal(1.0, 0.07 * spread), 0.8, 1.25)) for name in _JITTERED}
    displacement = FourierDisplacement.random(rng, amplitude_mm=(7.0 if hard else 4.5))
    chest_only = hard and rng.random() < 0.3
    top = 185.0 + rng.uniform(0, 15)
    bottom = (-130.0 if chest_only else -285.0) - rng.uniform(0, 15)
    severity = float(rng.beta(1.3, 2.5))
    nodule_count = int(rng.poisson(0.6 + 1.8 * severity))
    sites = rng.choice(
        len(_NODULE_SITES), size=min(nodule_count, len(_NODULE_SITES)), replace=False
    )
    centres = _NODULE_SITES[sites] + rng.normal(0, 8, size=(len(sites), 3))
    return TorsoParameters(
        scale=scale,
        fat_mm=float(rng.uniform(8, 35) * (1.3 if hard else 1.0)),
        diaphragm_shift_mm=float(rng.normal(0, 10 * spread)),
        organ_jitter=jitter,
        organ_size=size,
        displacement=displacement,
        fov_z_mm=(bottom, top),
        fov_xy_mm=float(rng.uniform(400, 460)),
        slice_spacing_factor=float(rng.uniform(1.0, 3.0 if hard else 1.8)),
        noise_hu=float(rng.uniform(25, 55) if hard else rng.uniform(8, 20)),
        blur_vox=float(rng.uniform(0.5, 1.3) if hard else rng.uniform(0.3, 0.8)),
        hu_offset=float(rng.normal(0, 15 if hard else 6)),
        severity=severity,
        subtype=SUBTYPES[int(rng.integers(0, 3))],
        nodule_centres_mm=centres,
        nodule_radii_mm=rng.uniform(2.5, 8.0, size=len(sites)),
        age=float(np.clip(rng.normal(65, 8), 40, 90)),
        frailty=float(rng.normal(0, 0.6)),
        disk_axcodes=_ORIENTATIONS[int(rng.integers(0, len(_ORIENTATIONS)))],
    )
