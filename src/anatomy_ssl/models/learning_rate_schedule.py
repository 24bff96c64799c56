"""Linear warmup then cosine decay, as a multiplier of the base learning rate."""

from __future__ import annotations

import math


def warmup_cosine_factor(
    step: int, *, warmup_steps: int, max_steps: int, min_ratio: float
) -> float:
    """Learning-rate multiplier at optimizer step `step` (0-based).

    Rises linearly from 1/(warmup_steps+1) to 1 over `warmup_steps`, then follows a half cosine
    from 1 down to `min_ratio` at `max_steps` (and stays there).
    """
    if step < warmup_steps:
        return (step + 1) / (warmup_steps + 1)
    span = max(max_steps - warmup_steps, 1)
    progress = min((step - warmup_steps) / span, 1.0)
    return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))
