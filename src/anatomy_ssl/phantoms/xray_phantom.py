"""2D radiograph phantom: digitally reconstructed PA chest radiographs of the CT phantom."""

from __future__ import annotations

import functools
from pathlib import Path

from anatomy_ssl.manifests import Manifest
from anatomy_ssl.phantoms.ct_phantom import ct_phantom_hierarchy, make_ct_phantom_subject
from anatomy_ssl.phantoms.phantom_dataset_writer import generate_subjects
from anatomy_ssl.phantoms.radiograph_dataset_writer import write_radiograph_dataset
from anatomy_ssl.phantoms.torso_hierarchy import ORGAN_ID
from anatomy_ssl.phantoms.torso_parameters import Preset

#: Square detector pixels (mm).
XRAY_PIXEL_SPACING_MM = 3.0

#: Level-1 overlay order on the film, bottom to top, as chest-radiograph annotations draw it:
#: lungs over ribs and spine, the heart over the lungs, clavicles on top.
XRAY_ORGAN_ORDER = [
    ORGAN_ID[name]
    for name in (
        "ribs",
        "spine",
        "airways",
        "aorta",
        "liver",
        "spleen",
        "stomach",
        "right_kidney",
        "left_kidney",
        "right_lung",
        "left_lung",
        "heart",
        "clavicles",
    )
]


def make_xray_phantom_dataset(
    out: str | Path,
    n: int,
    *,
    seed: int = 0,
    preset: Preset = "default",
    size: tuple[int, int, int] | None = None,
    workers: int = 1,
    progress: bool = True,
) -> Manifest:
    """Write n radiographs (projections of CT phantom subjects 0..n-1) with projected label maps
    of every level, projected landmarks, the clinical table and a manifest (level-1 labels).

    Subject k's radiograph is the projection of CT subject k of the same seed and preset.
    """
    factory = functools.partial(make_ct_phantom_subject, seed=seed, preset=preset, size=size)
    return write_radiograph_dataset(
        generate_subjects(factory, n, workers=workers, progress=progress, desc="X-ray phantom"),
        out,
        hierarchy=ct_phantom_hierarchy(),
        manifest_label_set="level1",
        split_seed=seed,
        label_priority={"level1": XRAY_ORGAN_ORDER},
        pixel_spacing_mm=XRAY_PIXEL_SPACING_MM,
    )
