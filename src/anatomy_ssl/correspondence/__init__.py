"""Point correspondence between volumes: by anatomical embeddings (coarse to fine) or by affine
registration, with a confidence and refusal below a threshold."""

from anatomy_ssl.correspondence.embedding_matcher import EmbeddingMatcher, coarse_to_fine_search
from anatomy_ssl.correspondence.point_matches import PointMatches
from anatomy_ssl.correspondence.registration_matcher import RegistrationMatcher

__all__ = ["EmbeddingMatcher", "PointMatches", "RegistrationMatcher", "coarse_to_fine_search"]
