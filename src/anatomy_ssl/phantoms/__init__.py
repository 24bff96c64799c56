"""Built-in synthetic data."""

from anatomy_ssl.phantoms.ct_like_volume import CT_LIKE_LABELS, CtLikeVolume, make_ct_like_volume
from anatomy_ssl.phantoms.ct_phantom import (
    ct_phantom_hierarchy,
    make_ct_phantom_dataset,
    make_ct_phantom_subject,
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
    "CT_LIKE_LABELS",
    "MU_WATER_PER_MM",
    "CtLikeVolume",
    "LabelDrawOrder",
    "PhantomSubject",
    "Radiograph",
    "RadiographGeometry",
    "ct_phantom_hierarchy",
    "hu_to_attenuation",
    "label_draw_order",
    "line_integral_to_display",
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
