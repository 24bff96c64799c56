"""Pretraining data: view samplers that say where to crop, readers, and the batch stream."""

from anatomy_ssl.data.crop_view_sampler import sample_view_specs
from anatomy_ssl.data.pretraining_stream import PretrainingStream, make_pretraining_loader
from anatomy_ssl.data.view_group import ViewGroup
from anatomy_ssl.data.view_reader import read_views
from anatomy_ssl.data.view_spec import ViewSpec

__all__ = [
    "PretrainingStream",
    "ViewGroup",
    "ViewSpec",
    "make_pretraining_loader",
    "read_views",
    "sample_view_specs",
]
