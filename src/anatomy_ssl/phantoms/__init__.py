"""Built-in synthetic data."""

from anatomy_ssl.phantoms.atlas_mri_dataset import (
    atlas_mri_hierarchy,
    iter_atlas_subjects,
    make_atlas_dataset,
    make_atlas_subject,
)
from anatomy_ssl.phantoms.atlas_mri_preset import ATLAS_MRI_PRESETS, AtlasMriPreset
from anatomy_ssl.phantoms.ct_like_volume import CT_LIKE_LABELS, CtLikeVolume, make_ct_like_volume
from anatomy_ssl.phantoms.ct_phantom import (
    ct_phantom_hierarchy,
    make_ct_phantom_dataset,
    make_ct_phantom_subject,
)
from anatomy_ssl.phantoms.diffeomorphic_deformation import DiffeomorphicDeformation
from anatomy_ssl.phantoms.icbm152_landmarks import icbm152_landmarks_mm
from anatomy_ssl.phantoms.icbm152_template import (
    TISSUE_LABELS,
    Icbm152Template,
    load_icbm152_template,
)
from anatomy_ssl.phantoms.label_draw_order import LabelDrawOrder, label_draw_order
from anatomy_ssl.phantoms.phantom_dataset_writer import read_landmarks, write_phantom_dataset
from anatomy_ssl.phantoms.phantom_montage import save_montage
from anatomy_ssl.phantoms.phantom_subject import PhantomSubject
from anatomy_ssl.phantoms.radiograph import Radiograph
from anatomy_ssl.phantoms.radiograph_dataset_writer import (
    read_radiograph_landmarks,
    write_radiograph,
    write_radiograph_dataset,
)
from anatomy_ssl.phantoms.radiograph_geometry import RadiographGeometry, radiograph_geometry
from anatomy_ssl.phantoms.radiograph_projection import project_radiograph
from anatomy_ssl.phantoms.xray_attenuation import (
    MU_WATER_PER_MM,
    hu_to_attenuation,
    line_integral_to_display,
)
from anatomy_ssl.phantoms.xray_phantom import make_xray_phantom_dataset

__all__ = [
    "ATLAS_MRI_PRESETS",
    "CT_LIKE_LABELS",
    "MU_WATER_PER_MM",
    "TISSUE_LABELS",
    "AtlasMriPreset",
    "CtLikeVolume",
    "DiffeomorphicDeformation",
    "Icbm152Template",
    "LabelDrawOrder",
    "PhantomSubject",
    "Radiograph",
    "RadiographGeometry",
    "atlas_mri_hierarchy",
    "ct_phantom_hierarchy",
    "hu_to_attenuation",
    "icbm152_landmarks_mm",
    "iter_atlas_subjects",
    "label_draw_order",
    "line_integral_to_display",
    "load_icbm152_template",
    "make_atlas_dataset",
    "make_atlas_subject",
    "make_ct_like_volume",
    "make_ct_phantom_dataset",
    "make_ct_phantom_subject",
    "make_xray_phantom_dataset",
    "project_radiograph",
    "radiograph_geometry",
    "read_landmarks",
    "read_radiograph_landmarks",
    "save_montage",
    "write_phantom_dataset",
    "write_radiograph",
    "write_radiograph_dataset",
]
