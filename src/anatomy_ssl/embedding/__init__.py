"""Embeddings of whole volumes from an exported encoder, for users' own downstream models."""

from anatomy_ssl.embedding.embedding_writer import embed_dataset
from anatomy_ssl.embedding.volume_embedding import VolumeEmbedding, embed_volume
from anatomy_ssl.embedding.volume_tiling import covering_tile_starts

__all__ = ["VolumeEmbedding", "covering_tile_starts", "embed_dataset", "embed_volume"]
