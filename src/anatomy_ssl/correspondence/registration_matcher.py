"""Point correspondence by affine registration (SimpleITK), for users without an anatomical
embedding model: the source volume is registered to the target and its points mapped through
the transform. A pair whose registration fails is refused whole, with the reason kept."""

from __future__ import annotations

import numpy as np

from anatomy_ssl.anatomy import RegistrationError, register_affine
from anatomy_ssl.correspondence.point_matches import PointMatches
from anatomy_ssl.preprocess import CachedVolume


class RegistrationMatcher:
    """Matches points between volumes through an affine registration of the pair.

    Args:
        iterations: optimizer iterations per pyramid level (see `register_affine`).
        seed: seeds the metric's sampling (registrations are deterministic).

    Attributes:
        failures: `(source subject, target subject, reason)` of every refused pair so far.
    """

    def __init__(self, *, iterations: int = 200, seed: int = 0) -> None:
        self.iterations = iterations
        self.seed = seed
        self.failures: list[tuple[str, str, str]] = []

    def match(
        self, source: CachedVolume, points_mm: np.ndarray, target: CachedVolume
    ) -> PointMatches:
        """Map `(N, S)` world-mm points of `source` into `target`; every point is refused (NaN,
        not accepted) when the registration fails. The similarity is NaN: an affine map gives
        no per-point confidence."""
        points = np.atleast_2d(np.asarray(points_mm, dtype=float))
        count = len(points)
        try:
            registration = register_affine(
                source, target, iterations=self.iterations, seed=self.seed
            )
        except RegistrationError as error:
            self.failures.append((source.subject_id, target.subject_id, error.reason))
            return PointMatches(
                points_mm=np.full_like(points, np.nan),
                similarity=np.full(count, np.nan),
                accepted=np.zeros(count, dtype=bool),
            )
        return PointMatches(
            points_mm=registration.map_points(points),
            similarity=np.full(count, np.nan),
            accepted=np.ones(count, dtype=bool),
        )
