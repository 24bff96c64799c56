"""`PointMatches`: where points of one volume lie in another, with a confidence, refused below a
threshold."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class PointMatches:
    """Matches of N points of a source volume in a target volume.

    Attributes:
        points_mm: `(N, S)` matched points in the target, world mm (RAS); NaN where refused.
        similarity: `(N,)` the matcher's confidence of each match (the averaged fine + coarse
            cosine for an embedding matcher; NaN for a matcher without one).
        accepted: `(N,)` bool, the match cleared the matcher's threshold.
    """

    points_mm: np.ndarray
    similarity: np.ndarray
    accepted: np.ndarray

    def __post_init__(self) -> None:
        count = len(self.points_mm)
        if (
            self.points_mm.ndim != 2
            or self.similarity.shape != (count,)
            or (self.accepted.shape != (count,))
        ):
            raise ValueError(
                f"need points (N, S), similarity (N,) and accepted (N,); got "
                f"{self.points_mm.shape}, {self.similarity.shape}, {self.accepted.shape}"
            )

    @property
    def acceptance_rate(self) -> float:
        """Share of the points that got a match (NaN for no points)."""
        return float(self.accepted.mean()) if len(self.accepted) else float("nan")
