"""Point correspondence between volumes: by anatomical embeddings (coarse to fine) or by affine
registration, with a confidence and refusal below a threshold; and cross-volume pairs mined
with them ahead of training (Alice), stored with the cache."""

from anatomy_ssl.correspondence.embedding_matcher import EmbeddingMatcher, coarse_to_fine_search
from anatomy_ssl.correspondence.mining_runner import MatcherSpec, MiningReport, mine_cache
from anatomy_ssl.correspondence.pair_mining import MinedPairs, choose_partners, mine_volume_pairs
from anatomy_ssl.correspondence.point_matches import PointMatches
from anatomy_ssl.correspondence.registration_matcher import RegistrationMatcher
from anatomy_ssl.correspondence.voxel_refinement import refine_to_voxels
from anatomy_ssl.data.mined_pairs_store import (
    StaleMinedPairsError,
    load_mined_pairs,
    missing_sources,
)

__all__ = [
    "EmbeddingMatcher",
    "MatcherSpec",
    "MinedPairs",
    "MiningReport",
    "PointMatches",
    "RegistrationMatcher",
    "StaleMinedPairsError",
    "choose_partners",
    "coarse_to_fine_search",
    "load_mined_pairs",
    "mine_cache",
    "mine_volume_pairs",
    "missing_sources",
    "refine_to_voxels",
]
