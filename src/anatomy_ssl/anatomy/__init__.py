"""Anatomical structure of a volume: the body's extent and its hierarchical part decomposition
(Eden / Adam's anatomy decomposer)."""

from anatomy_ssl.anatomy.anatomy_decomposer import PartBoxes, sample_part_boxes
from anatomy_ssl.anatomy.body_foreground import body_bounding_box
from anatomy_ssl.anatomy.decomposition_schedule import (
    DecompositionSchedule,
    fitted_schedule,
)

__all__ = [
    "DecompositionSchedule",
    "PartBoxes",
    "body_bounding_box",
    "fitted_schedule",
    "sample_part_boxes",
]
