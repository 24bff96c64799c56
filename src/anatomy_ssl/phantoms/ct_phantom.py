"""The CT torso phantom (docs/phantoms.md): one subject from its parameters, in memory or on
disk."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from anatomy_ssl.manifests import Manifest
from anatomy_ssl.phantoms.ct_appearance import LAA_THRESHOLD_HU, ct_appearance, lobe_voxel_counts
from anatomy_ssl.phantoms.emphysema_model import emphysema_mask
from anatomy_ssl.phantoms.phantom_dataset_writer import generate_subjects, write_phantom_dataset
from anatomy_ssl.phantoms.phantom_subject import PhantomSubject
from anatomy_ssl.phantoms.survival_model import draw_survival, true_risk_score
from anatomy_ssl.phantoms.torso_geometry import TemplateWindow, TorsoShapes, paint_parts
from anatomy_ssl.phantoms.torso_hierarchy import (
    LOBES,
    PART_ID,
    hierarchy_description,
    organ_map,
)
from anatomy_ssl.phantoms.torso_landmarks import LANDMARK_STRUCTURES, template_landmarks
from anatomy_ssl.phantoms.torso_parameters import (
    PRESET_SIZES,
    Preset,
    TorsoParameters,
    sample_torso_parameters,
)


def _part_flags(names: list[str]) -> np.ndarray:
    """`(256,)` bool lookup table: is a level-2 label value one of `names`?"""
    table = np.zeros(256, dtype=bool)
    table[[PART_ID[name] for name in names]] = True
    return table


_IS_LOBE = _part_flags(list(LOBES))
_IS_LOWER_LOBE = _part_flags(["right_lower_lobe", "left_lower_lobe"])


def subject_grid(params: TorsoParameters, size: tuple[int, int, int]) -> np.ndarray:
    """RAS affine of the subject's image: in-plane FOV over X, Y; the z FOV over Z slices."""
    bottom, top = params.fov_z_mm
    spacing_xy = params.fov_xy_mm / size[0]
    spacing_z = (top - bottom) * params.scale[2] / size[2]
    affine = np.diag([spacing_xy, spacing_xy, spacing_z, 1.0])
    affine[:3, 3] = [
        -(size[0] - 1) / 2 * spacing_xy,
        -(size[1] - 1) / 2 * spacing_xy - 10.0,
        bottom * params.scale[2],
    ]
    return affine


def make_ct_phantom_subject(
    index: int,
    *,
    seed: int = 0,
    preset: Preset = "default",
    size: tuple[int, int, int] | None = None,
) -> PhantomSubject:
    """Generate subject `index` (depends only on seed, index, preset and size).

    Returns:
        A PhantomSubject in HU with label maps "level0", "level1", "level2", named landmarks in
        RAS mm, and clinical variables (disease, percent emphysema per lobe, survival).
    """
    params = sample_torso_parameters(seed, index, preset)
    size = size or PRESET_SIZES[preset]
    affine = subject_grid(params, size)
    rng = np.random.default_rng([seed, index, 1])  # appearance randomness, separate stream
    shapes = TorsoShapes.for_subject(params)

    # Template coordinates of every voxel: T(x) = x / scale + u(x), one contiguous array per axis.
    axes = [affine[a, a] * np.arange(size[a], dtype=np.float32) + affine[a, 3] for a in range(3)]
    displacement = params.displacement.on_grid((axes[0], axes[1], axes[2]))
    scale = params.scale.astype(np.float32)
    p = tuple(
        (axes[a] / scale[a]).reshape([-1 if b == a else 1 for b in range(3)]) + displacement[a]
        for a in range(3)
    )
    del displacement
    margin = float(np.abs(params.displacement.amplitudes_mm).sum(axis=1).max())
    window = TemplateWindow((axes[0], axes[1], axes[2]), params.scale, margin)
    parts, body, inner = paint_parts(p, shapes, window)

    # Nodules: soft-tissue spheres inside the lung parenchyma (they keep their lobe label).
    parenchyma = _IS_LOBE[parts]
    nodule = np.zeros(size, dtype=bool)
    for centre, radius in zip(params.nodule_centres_mm, params.nodule_radii_mm, strict=True):
        region = window(centre - radius, centre + radius)
        points = np.stack([a[region] for a in p], axis=-1)
        nodule[region] |= np.sum((points - centre.astype(np.float32)) ** 2, axis=-1) <= radius**2
    nodule &= parenchyma
    spacing = (affine[0, 0], affine[1, 1], affine[2, 2])
    emphysema = emphysema_mask(
        parenchyma & ~nodule,
        _IS_LOWER_LOBE[parts],
        p[2],
        subtype=params.subtype,
        severity=params.severity,
        spacing_mm=spacing,
        rng=rng,
    )
    image = ct_appearance(params, parts, body, body & ~inner, p[2], emphysema, nodule, rng)
    landmarks = {
        name: tuple(float(c) for c in point)
        for name, point in zip(
            template_landmarks(shapes),
            params.displacement.solve_points(
                np.array(list(template_landmarks(shapes).values())),
                params.scale,
                np.zeros(3),
            ),
            strict=True,
        )
    }
    return PhantomSubject(
        subject_id=f"phantom_{index:04d}",
        image=image,
        affine=affine,
        label_maps={"level0": body.astype(np.uint8), "level1": organ_map(parts), "level2": parts},
        landmarks_mm=landmarks,  # type: ignore[arg-type]
        clinical=_clinical(params, parts, image, rng),
        disk_axcodes=params.disk_axcodes,
    )


def _clinical(
    params: TorsoParameters,
    parts: np.ndarray,
    image: np.ndarray,
    rng: np.random.Generator,
) -> dict[str, float | int | str]:
    """Disease variables, percent emphysema (LAA-950 on the final image, per lobe and overall),
    the true risk score and a survival outcome."""
    nodule_count = len(params.nodule_centres_mm)
    risk = true_risk_score(params.severity, params.subtype, nodule_count, params.age)
    time_years, event = draw_survival(risk, params.frailty, rng)
    clinical: dict[str, float | int | str] = {
        "age": round(params.age, 1),
        "severity": round(params.severity, 4),
        "subtype": params.subtype,
        "nodule_count": nodule_count,
        "nodule_max_diameter_mm": round(2 * float(np.max(params.nodule_radii_mm, initial=0)), 1),
    }
    lung_voxels = low_voxels = 0
    for lobe, (voxels, low) in lobe_voxel_counts(parts, image < LAA_THRESHOLD_HU).items():
        lung_voxels, low_voxels = lung_voxels + voxels, low_voxels + low
        clinical[f"percent_emphysema_{lobe}"] = round(100.0 * low / max(voxels, 1), 3)
    clinical["percent_emphysema"] = round(100.0 * low_voxels / max(lung_voxels, 1), 3)
    clinical["risk_score"] = round(risk, 4)
    clinical["survival_years"] = round(time_years, 3)
    clinical["event"] = event
    return clinical


def ct_phantom_hierarchy() -> dict[str, object]:
    """`hierarchy.json` content of the CT phantom."""
    return hierarchy_description(LANDMARK_STRUCTURES)


def make_ct_phantom_dataset(
    out: str | Path,
    n: int,
    *,
    seed: int = 0,
    preset: Preset = "default",
    size: tuple[int, int, int] | None = None,
    workers: int = 1,
    progress: bool = True,
) -> Manifest:
    """Write n subjects (images in int16 HU, labels/level0..2, landmarks, clinical.csv,
    hierarchy.json, manifest.csv with level-1 labels and subject-level splits).

    Generation runs in `workers` processes; subject k is the same whatever n and workers are.
    """
    factory = functools.partial(make_ct_phantom_subject, seed=seed, preset=preset, size=size)
    return write_phantom_dataset(
        generate_subjects(factory, n, workers=workers, progress=progress, desc="CT phantom"),
        out,
        hierarchy=ct_phantom_hierarchy(),
        manifest_label_set="level1",
        split_seed=seed,
        image_dtype="int16",
    )
