"""Anatomical structure of a volume: the body's extent, its hierarchical part decomposition
(Eden / Adam's anatomy decomposer), affine registration between volumes, and DrasCLR's
anatomical frame (a grid of patch locations on a reference, mapped into every subject)."""

from anatomy_ssl.anatomy.affine_registration import (
    AffineRegistration,
    RegistrationError,
    register_affine,
)
from anatomy_ssl.anatomy.anatomical_frame import FrameReport, build_frame
from anatomy_ssl.anatomy.anatomy_decomposer import PartBoxes, sample_part_boxes
from anatomy_ssl.anatomy.body_foreground import body_bounding_box
from anatomy_ssl.anatomy.decomposition_schedule import (
    DecompositionSchedule,
    fitted_schedule,
)
from anatomy_ssl.anatomy.location_grid import LocationGrid, location_grid
from anatomy_ssl.anatomy.subject_frame import SubjectFrame, frame_subject

__all__ = [
    "AffineRegistration",
    "DecompositionSchedule",
    "FrameReport",
    "LocationGrid",
    "PartBoxes",
    "RegistrationError",
    "SubjectFrame",
    "body_bounding_box",
    "build_frame",
    "fitted_schedule",
    "frame_subject",
    "location_grid",
    "register_affine",
    "sample_part_boxes",
]
