"""Pretraining data: view samplers that say where to crop, readers, and the batch streams
(random crops, views of anatomical parts, or crop pairs mined across volumes, whose store
lives here too, as do the loader of DrasCLR's anatomical frame and its patch reader)."""

from anatomy_ssl.data.anatomical_frame_store import (
    AnatomicalFrame,
    StaleFrameError,
    load_frame,
)
from anatomy_ssl.data.anatomy_part_stream import AnatomyPartStream
from anatomy_ssl.data.crop_view_sampler import sample_view_specs
from anatomy_ssl.data.frame_patch_stream import FramePatchStream, FrameSampleTable
from anatomy_ssl.data.frame_patches import read_frame_patches
from anatomy_ssl.data.mined_pair_table import pair_table
from anatomy_ssl.data.mined_pairs import MinedPairs
from anatomy_ssl.data.mined_pairs_store import StaleMinedPairsError, load_mined_pairs
from anatomy_ssl.data.paired_view_stream import PairedViewStream, PairTable
from anatomy_ssl.data.part_view_layout import PartViewLayout
from anatomy_ssl.data.pretraining_stream import PretrainingStream, make_pretraining_loader
from anatomy_ssl.data.view_geometry import ViewGeometry, sample_in_boxes
from anatomy_ssl.data.view_group import ViewGroup
from anatomy_ssl.data.view_reader import read_views
from anatomy_ssl.data.view_spec import ViewSpec

__all__ = [
    "AnatomicalFrame",
    "AnatomyPartStream",
    "FramePatchStream",
    "FrameSampleTable",
    "MinedPairs",
    "PairTable",
    "PairedViewStream",
    "PartViewLayout",
    "PretrainingStream",
    "StaleFrameError",
    "StaleMinedPairsError",
    "ViewGeometry",
    "ViewGroup",
    "ViewSpec",
    "load_frame",
    "load_mined_pairs",
    "make_pretraining_loader",
    "pair_table",
    "read_frame_patches",
    "read_views",
    "sample_in_boxes",
    "sample_view_specs",
]
