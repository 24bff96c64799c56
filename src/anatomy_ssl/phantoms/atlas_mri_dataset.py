"""Real-anatomy MRI subjects made from the ICBM152 template (docs/phantoms.md).

Each subject is the template under its own random smooth diffeomorphism (scaling and squaring of
a stationary velocity field with a small global scale and rotation), with per-tissue contrast and
gamma changes, a smooth multiplicative bias field and Rician noise. The tissue map (background,
CSF / other, grey matter, white matter) goes through the same deformation with nearest-neighbour
sampling, and landmarks through its forward point map, so labels and landmarks are exact for the
image. Subject `k` depends only on (seed, k, preset, resolution), never on how many are made.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from anatomy_ssl.errors import ConfigError
from anatomy_ssl.manifests import Manifest
from anatomy_ssl.phantoms.atlas_mri_preset import AtlasMriPreset, atlas_mri_preset
from anatomy_ssl.phantoms.diffeomorphic_deformation import DiffeomorphicDeformation
from anatomy_ssl.phantoms.icbm152_landmarks import icbm152_landmarks_mm, landmark_tissues
from anatomy_ssl.phantoms.icbm152_template import (
    TISSUE_LABELS,
    Icbm152Template,
    load_icbm152_template,
)
from anatomy_ssl.phantoms.mri_appearance import MriAppearance
from anatomy_ssl.phantoms.phantom_dataset_writer import generate_subjects, write_phantom_dataset
from anatomy_ssl.phantoms.phantom_subject import PhantomSubject
from anatomy_ssl.phantoms.random_velocity_field import VelocityFieldParameters

#: On-disk orientations drawn per subject, so readers and reorientation are exercised.
DISK_AXCODES: tuple[tuple[str, str, str], ...] = (
    ("R", "A", "S"),
    ("L", "A", "S"),
    ("L", "P", "S"),
    ("A", "S", "L"),
)

#: Centre of the global scale and rotation: the template's brain-mask centroid, RAS mm.
BRAIN_CENTER_MM = np.array([0.0, -22.0, 9.5])


def atlas_mri_hierarchy() -> dict[str, object]:
    """`hierarchy.json` content: tissue label names and the tissue of each landmark."""
    return {
        "template": "ICBM152 2009a nonlinear symmetric (nilearn/datasets/data)",
        "levels": {"tissue": {str(value): name for name, value in TISSUE_LABELS.items()}},
        "landmark_structures": {
            name: {"level": "tissue", "structure": tissue}
            for name, tissue in landmark_tissues().items()
        },
    }


def make_atlas_subject(
    index: int,
    *,
    seed: int = 0,
    resolution_mm: float | None = None,
    preset: str = "default",
) -> PhantomSubject:
    """Generate atlas subject `index` (depends only on seed, index, preset and resolution).

    The random parameters (deformation, appearance, on-disk orientation) are drawn from
    `np.random.default_rng([seed, index])` in a fixed number of draws that does not depend on the
    grid, and the noise from a separate stream, so one subject at two resolutions has the same
    anatomy.

    Args:
        index: subject number k >= 0; the id is `atlas_<k:04d>`.
        seed: dataset seed >= 0.
        resolution_mm: isotropic voxel size; None takes the preset's (small 3 mm, else 2 mm).
        preset: "small", "default" or "hard" (`ATLAS_MRI_PRESETS`).

    Returns:
        A PhantomSubject on the template's field of view (at 2 mm `(99, 117, 95)` voxels, RAS):
        a float32 T1-weighted magnitude image (about 0..1000), `label_maps["tissue"]` uint8
        (`TISSUE_LABELS`), landmarks in RAS mm (hemisphere tissue centroids and MNI points of
        `icbm152_landmarks`, carried through the deformation), and clinical variables (tissue
        volumes in ml, global scale, RMS deformation, bias and noise levels).

    Raises:
        ConfigError: unknown preset, negative index or seed, or a non-positive resolution.
    """
    if index < 0 or seed < 0:
        raise ConfigError(f"index and seed must be >= 0, got index={index}, seed={seed}")
    settings = atlas_mri_preset(preset)
    resolution = float(settings.resolution_mm if resolution_mm is None else resolution_mm)
    template = load_icbm152_template(resolution)
    rng = np.random.default_rng([seed, index])
    velocity = VelocityFieldParameters.sample(
        rng,
        center_mm=BRAIN_CENTER_MM,
        amplitude_mm=settings.velocity_amplitude_mm,
        control_points=settings.control_points,
        log_scale_sd=settings.log_scale_sd,
        anisotropy_sd=settings.anisotropy_sd,
        rotation_sd_deg=settings.rotation_sd_deg,
    )
    appearance = MriAppearance.sample(
        rng,
        contrast_sd=settings.contrast_sd,
        gamma_sd=settings.gamma_sd,
        bias_strength=settings.bias_strength,
        noise_fraction=settings.noise_fraction,
    )
    axcodes = DISK_AXCODES[int(rng.integers(len(DISK_AXCODES)))]

    deformation = _deformation(velocity, template, settings)
    contrast = appearance.tissue_contrast(template.t1, template.grey_matter, template.white_matter)
    noise_rng = np.random.default_rng([seed, index, 1])
    image = appearance.acquire(deformation.warp(contrast, order=1), noise_rng)
    tissue = deformation.warp(template.tissue, order=0)

    template_landmarks = icbm152_landmarks_mm(resolution)
    names = list(template_landmarks)
    points = np.array([template_landmarks[name] for name in names])  # (L, 3) RAS mm
    moved = template.voxel_to_world(deformation.map_points(template.world_to_voxel(points)))
    landmarks = {name: _point(point) for name, point in zip(names, moved, strict=True)}

    return PhantomSubject(
        subject_id=f"atlas_{index:04d}",
        image=image,
        affine=template.affine.copy(),
        label_maps={"tissue": tissue},
        landmarks_mm=landmarks,
        clinical=_clinical(tissue, template, velocity, appearance, deformation, axcodes),
        disk_axcodes=axcodes,
    )


def iter_atlas_subjects(
    n: int,
    *,
    seed: int = 0,
    resolution_mm: float | None = None,
    preset: str = "default",
    workers: int = 1,
    progress: bool = True,
) -> Iterator[PhantomSubject]:
    """Subjects 0..n-1 in order, generated lazily (in `workers` processes; 1 = this one).

    Memory holds about one subject per worker (the template is loaded once per process).
    """
    factory = functools.partial(
        make_atlas_subject, seed=seed, resolution_mm=resolution_mm, preset=preset
    )
    return generate_subjects(factory, n, workers=workers, progress=progress, desc="atlas MRI")


def make_atlas_dataset(
    out: str | Path,
    n: int,
    *,
    seed: int = 0,
    preset: str = "default",
    resolution_mm: float | None = None,
    workers: int = 1,
    progress: bool = True,
) -> Manifest:
    """Write n atlas MRI subjects in the phantom layout.

    Writes `images/`, `labels/tissue/`, `landmarks/`, `clinical.csv`, `hierarchy.json` and
    `manifest.csv` (label column: the tissue maps; subject-level splits seeded by `seed`).

    Args:
        out: output folder (created).
        n: number of subjects (>= 1).
        seed: dataset seed; subject k is the same for every n.
        preset: "small", "default" or "hard".
        resolution_mm: override the preset's voxel size (mm).
        workers: generating processes; subject k is the same whatever n and workers are.
        progress: show a progress bar.

    Returns:
        The manifest written to `out/manifest.csv`.

    Raises:
        ConfigError: n < 1, or an invalid preset, seed or resolution.
    """
    if n < 1:
        raise ConfigError(f"n must be >= 1, got {n}")
    atlas_mri_preset(preset)  # fail before creating anything
    return write_phantom_dataset(
        iter_atlas_subjects(
            n,
            seed=seed,
            resolution_mm=resolution_mm,
            preset=preset,
            workers=workers,
            progress=progress,
        ),
        out,
        hierarchy=atlas_mri_hierarchy(),
        manifest_label_set="tissue",
        split_seed=seed,
    )


def _deformation(
    velocity: VelocityFieldParameters, template: Icbm152Template, settings: AtlasMriPreset
) -> DiffeomorphicDeformation:
    """Integrate the velocity on a coarse grid with the template's corners, upsample to it."""
    size = np.asarray(template.size_vox)
    extent_vox = (size - 1) * np.asarray(template.spacing_mm) / settings.integration_spacing_mm
    coarse = np.maximum(np.ceil(extent_vox).astype(int) + 1, 2)
    coarse_affine = template.affine @ np.diag([*((size - 1) / (coarse - 1)), 1.0])
    x, y, z = (int(c) for c in coarse)
    return DiffeomorphicDeformation.from_velocity(
        velocity.velocity_vox(coarse_affine, (x, y, z)),
        squaring_steps=settings.squaring_steps,
        size_vox=template.size_vox,
    )


def _clinical(
    tissue: np.ndarray,
    template: Icbm152Template,
    velocity: VelocityFieldParameters,
    appearance: MriAppearance,
    deformation: DiffeomorphicDeformation,
    axcodes: tuple[str, str, str],
) -> dict[str, float | int | str]:
    """Tissue volumes (ml) and the generating parameters worth regressing or stratifying on."""
    counts = np.bincount(tissue.ravel(), minlength=len(TISSUE_LABELS))
    volume = template.voxel_volume_ml
    spacing = np.asarray(template.spacing_mm, dtype=np.float32)[:, None]
    displacement_mm = deformation.forward_vox[:, template.brain_mask] * spacing  # (3, N)
    rms_mm = float(np.sqrt(np.mean(np.sum(displacement_mm**2, axis=0))))
    bias = appearance.log_bias_control
    return {
        "brain_volume_ml": round(float(counts[1:].sum() * volume), 2),
        "csf_other_ml": round(float(counts[TISSUE_LABELS["csf_other"]] * volume), 2),
        "grey_matter_ml": round(float(counts[TISSUE_LABELS["grey_matter"]] * volume), 2),
        "white_matter_ml": round(float(counts[TISSUE_LABELS["white_matter"]] * volume), 2),
        "global_scale": round(velocity.global_scale, 4),
        "deformation_rms_mm": round(rms_mm, 3),
        "bias_strength_percent": round(100.0 * float(np.expm1(np.abs(bias)).max()), 2),
        "noise_sigma": round(appearance.noise_sigma, 3),
        "disk_axcodes": "".join(axcodes),
    }


def _point(values: np.ndarray) -> tuple[float, float, float]:
    return float(values[0]), float(values[1]), float(values[2])
