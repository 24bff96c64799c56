"""Embeddings of whole volumes (and of the locations of DrasCLR's anatomical frame, per location
and per patient) from an exported encoder, for users' own downstream models."""

from anatomy_ssl.embedding.embedding_writer import embed_dataset
from anatomy_ssl.embedding.frame_embedding import location_embeddings, patient_embedding
from anatomy_ssl.embedding.frame_pooled_embeddings import (
    FRAME_SETTINGS,
    FramePooledEmbeddings,
    frame_pooled_embeddings,
)
from anatomy_ssl.embedding.volume_embedding import VolumeEmbedding, embed_volume
from anatomy_ssl.embedding.volume_tiling import covering_tile_starts

__all__ = [
    "FRAME_SETTINGS",
    "FramePooledEmbeddings",
    "VolumeEmbedding",
    "covering_tile_starts",
    "embed_dataset",
    "embed_volume",
    "frame_pooled_embeddings",
    "location_embeddings",
    "patient_embedding",
]
