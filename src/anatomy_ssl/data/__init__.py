"""Pretraining data: view samplers that say where to crop, readers, and the batch streams
(random crops, or views of anatomical parts)."""

from anatomy_ssl.data.anatomy_part_stream import AnatomyPartStream
from anatomy_ssl.data.crop_view_sampler import sample_view_specs
from anatomy_ssl.data.paired_view_stream import PairedViewStream, PairTable
from anatomy_ssl.data.part_view_layout import PartViewLayout
from anatomy_ssl.data.pretraining_stream import PretrainingStream, make_pretraining_loader
from anatomy_ssl.data.view_geometry import ViewGeometry, sample_in_boxes
from anatomy_ssl.data.view_group import ViewGroup
from anatomy_ssl.data.view_reader import read_views
from anatomy_ssl.data.view_spec import ViewSpec

__all__ = [
    "AnatomyPartStream",
    "PairTable",
    "PairedViewStream",
    "PartViewLayout",
    "PretrainingStream",
    "ViewGeometry",
    "ViewGroup",
    "ViewSpec",
    "make_pretraining_loader",
    "read_views",
    "sample_in_boxes",
    "sample_view_specs",
]
