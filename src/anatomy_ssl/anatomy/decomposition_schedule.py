"""Eden's coarse-to-fine curriculum: which granularity level each optimizer step trains at."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DecompositionSchedule:
    """Stages of one run, in order; stage `i` trains at level `levels[i]` for a fraction
    `fractions[i]` of the steps, continuing from the previous stage's weights, queue and teacher
    (they are one run, so nothing is reset between stages).

    Hosseinzadeh Taher et al. (MICCAI DART 2023) train levels 0, 2, 4 of a 2D chest X-ray in
    sequence, each stage initialized from the last; a level is a pure function of the step, so a
    resumed run continues in the right stage.

    Attributes:
        levels: granularity levels g >= 0 (a part is the body box / 2^g per axis).
        fractions: share of the steps per stage (normalized; default equal shares).
        total_steps: steps of the whole run (all stages), >= 1.
    """

    levels: tuple[int, ...]
    total_steps: int
    fractions: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "levels", tuple(int(g) for g in self.levels))
        if not self.levels or min(self.levels) < 0:
            raise ValueError(f"need at least one level, all >= 0; got {self.levels}")
        if self.total_steps < 1:
            raise ValueError(f"total_steps must be >= 1, got {self.total_steps}")
        if self.fractions is not None:
            fractions = tuple(float(f) for f in self.fractions)
            if len(fractions) != len(self.levels) or min(fractions) <= 0:
                raise ValueError(
                    f"need one positive fraction per level ({len(self.levels)}), got {fractions}"
                )
            object.__setattr__(self, "fractions", fractions)

    @property
    def stage_starts(self) -> np.ndarray:
        """`(L,)` first step of each stage (the first is 0)."""
        shares = np.asarray(self.fractions or [1.0] * len(self.levels), dtype=float)
        bounds = np.floor(np.cumsum(shares) / shares.sum() * self.total_steps).astype(np.int64)
        return np.concatenate([[0], bounds[:-1]])

    def stage_at(self, step: int) -> int:
        """Index of the stage step `step` (0-based batch index) belongs to; steps past the end
        stay in the last stage."""
        return int(np.searchsorted(self.stage_starts, step, side="right") - 1)

    def level_at(self, step: int) -> int:
        """Granularity level of step `step`."""
        return self.levels[self.stage_at(max(step, 0))]


def fitted_schedule(
    levels: tuple[int, ...],
    total_steps: int,
    *,
    fractions: tuple[float, ...] | None = None,
    min_stage_steps: int = 0,
) -> DecompositionSchedule:
    """The schedule of `levels` over `total_steps`, with stages long enough to train.

    With equal shares (`fractions` None) and a budget too short to give every level
    `min_stage_steps` steps, the coarsest levels are dropped (with a warning) until the rest
    fit; the finest level always stays. Explicit `fractions` are the user's choice and kept.
    """
    kept = tuple(levels)
    if fractions is None and min_stage_steps > 0:
        fit = max(total_steps // min_stage_steps, 1)
        if fit < len(kept):
            kept = tuple(sorted(kept, reverse=True)[:fit])
            kept = tuple(g for g in levels if g in kept)
            log.warning(
                "decomposer: %d steps give each of levels %s fewer than min_stage_steps=%d; "
                "training levels %s only (set decomposer.min_stage_steps: 0 to keep them all)",
                total_steps,
                list(levels),
                min_stage_steps,
                list(kept),
            )
    return DecompositionSchedule(kept, total_steps=total_steps, fractions=fractions)
