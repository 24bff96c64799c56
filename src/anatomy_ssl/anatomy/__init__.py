"""Anatomical structure of a volume: the body's extent, its hierarchical part decomposition
(Eden / Adam's anatomy decomposer) and affine registration between volumes."""

from anatomy_ssl.anatomy.affine_registration import (
    AffineRegistration,
    RegistrationError,
    register_affine,
)
from anatomy_ssl.anatomy.anatomy_decomposer import PartBoxes, sample_part_boxes
from anatomy_ssl.anatomy.body_foreground import body_bounding_box
from anatomy_ssl.anatomy.decomposition_schedule import (
    DecompositionSchedule,
    fitted_schedule,
)

__all__ = [
    "AffineRegistration",
    "DecompositionSchedule",
    "PartBoxes",
    "RegistrationError",
    "body_bounding_box",
    "fitted_schedule",
    "register_affine",
    "sample_part_boxes",
]
