"""Point correspondence between volumes: by anatomical embeddings (coarse to fine) or by affine
registration, with a confidence and refusal below a threshold."""

from anatomy_ssl.correspondence.embedding_matcher import EmbeddingMatcher, coarse_to_fine_search
from anatomy_ssl.correspondence.point_matches import PointMatches

__all__ = ["EmbeddingMatcher", "PointMatches", "coarse_to_fine_search"]
