"""The CT torso phantom (PHANTOM.md): one subject from its parameters, in memory or on disk."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
from scipy import ndimage

from anatomy_ssl.manifests import Manifest
from anatomy_ssl.phantoms.emphysema_model import emphysema_mask
from anatomy_ssl.phantoms.phantom_dataset_writer import generate_subjects, write_phantom_dataset
from anatomy_ssl.phantoms.phantom_subject import PhantomSubject
from anatomy_ssl.phantoms.survival_model import draw_survival, true_risk_score
from anatomy_ssl.phantoms.torso_geometry import TemplateWindow, TorsoShapes, paint_parts
from anatomy_ssl.phantoms.torso_hierarchy import (
    LOBES,
    PART_ID,
    PARTS,
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

AIR_HU, FAT_HU, SOFT_TISSUE_HU = -1000.0, -100.0, 45.0
LUNG_HU, EMPHYSEMA_HU, NODULE_HU = -860.0, -995.0, 40.0
#: Low-attenuation threshold of the clinical emphysema score (LAA-950, as in clinical CT).
LAA_THRESHOLD_HU = -950.0


def _part_hu_table() -> np.ndarray:
    """Mean HU of each level-2 part (index = label value; 0 = other soft tissue)."""
    by_prefix = [
        ("vertebra_", 330.0),
        ("disc_", 85.0),
        ("right_rib", 480.0),
        ("left_rib", 480.0),
        ("right_clavicle", 520.0),
        ("left_clavicle", 520.0),
        ("trachea", -990.0),
        ("right_main_bronchus", -990.0),
        ("left_main_bronchus", -990.0),
        ("right_pulmonary_vessels", 40.0),
        ("left_pulmonary_vessels", 40.0),
        ("right_atrium", 38.0),
        ("right_ventricle", 42.0),
        ("left_atrium", 40.0),
        ("left_ventricle", 48.0),
        ("aorta", 45.0),
        ("liver", 62.0),
        ("spleen", 50.0),
        ("stomach", 22.0),
        ("right_kidney_cortex", 38.0),
        ("right_kidney_medulla", 28.0),
        ("left_kidney_cortex", 38.0),
        ("left_kidney_medulla", 28.0),
    ]
    table = np.full(len(PARTS) + 1, SOFT_TISSUE_HU, dtype=np.float32)
    for name in PARTS:
        if name in LOBES:
            table[PART_ID[name]] = LUNG_HU
        for prefix, hu in by_prefix:
            if name.startswith(prefix):
                table[PART_ID[name]] = hu
    return table


PART_HU = _part_hu_table()


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

    # Template coordinates of every voxel: T(x) = x / scale + u(x).
    axes = [affine[a, a] * np.arange(size[a], dtype=np.float32) + affine[a, 3] for a in range(3)]
    world = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1)  # (X, Y, Z, 3)
    template = world / params.scale.astype(np.float32) + params.displacement(world)
    del world
    p = (template[..., 0], template[..., 1], template[..., 2])
    margin = float(np.abs(params.displacement.amplitudes_mm).sum(axis=1).max())
    window = TemplateWindow((axes[0], axes[1], axes[2]), params.scale, margin)
    parts, body, inner = paint_parts(p, shapes, window)

    # Nodules: soft-tissue spheres inside the lung parenchyma (they keep their lobe label).
    lobe_ids = np.array([PART_ID[name] for name in LOBES])
    parenchyma = np.isin(parts, lobe_ids)
    nodule = np.zeros(size, dtype=bool)
    for centre, radius in zip(params.nodule_centres_mm, params.nodule_radii_mm, strict=True):
        nodule |= np.sum((template - centre.astype(np.float32)) ** 2, axis=-1) <= radius**2
    nodule &= parenchyma
    lower = np.isin(parts, [PART_ID["right_lower_lobe"], PART_ID["left_lower_lobe"]])
    spacing = (affine[0, 0], affine[1, 1], affine[2, 2])
    emphysema = emphysema_mask(
        parenchyma & ~nodule,
        lower,
        p[2],
        subtype=params.subtype,
        severity=params.severity,
        spacing_mm=spacing,
        rng=rng,
    )
    image = _ct_appearance(params, parts, body, body & ~inner, p, emphysema, nodule, rng)
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


def _ct_appearance(
    params: TorsoParameters,
    parts: np.ndarray,
    body: np.ndarray,
    fat_rim: np.ndarray,
    p: tuple[np.ndarray, ...],
    emphysema: np.ndarray,
    nodule: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """HU image: tissue means + texture + disease, then scanner blur, correlated noise, offset."""
    image = PART_HU[parts]
    image[fat_rim & (parts == 0)] = FAT_HU
    image[~body] = AIR_HU
    stomach = parts == PART_ID["stomach"]
    gas_level = np.percentile(p[2][stomach], 75) if stomach.any() else np.inf
    image[stomach & (p[2] > gas_level)] = -950.0
    texture = ndimage.gaussian_filter(rng.standard_normal(parts.shape, dtype=np.float32), 1.5)
    texture *= np.float32(1.0 / max(float(texture.std()), 1e-6))
    image += np.where(image < -500, 25.0, 12.0).astype(np.float32) * texture * body
    image[emphysema] = EMPHYSEMA_HU
    image[nodule] = NODULE_HU
    thickness = params.blur_vox * params.slice_spacing_factor
    image = ndimage.gaussian_filter(image, (params.blur_vox, params.blur_vox, thickness))
    noise = ndimage.gaussian_filter(rng.standard_normal(parts.shape, dtype=np.float32), 0.7)
    noise *= np.float32(params.noise_hu / max(float(noise.std()), 1e-6))
    return np.clip(image + noise + params.hu_offset, -1024, 3071).astype(np.float32)


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
    low_attenuation = image < LAA_THRESHOLD_HU
    lung_voxels = low_voxels = 0
    for lobe in LOBES:
        in_lobe = parts == PART_ID[lobe]
        voxels, low = int(in_lobe.sum()), int((low_attenuation & in_lobe).sum())
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
