"""Eden / Adam's purposive pruner: drop look-alike negatives from a contrastive denominator.

Hosseinzadeh Taher et al. (MICCAI DART 2023): a queued negative whose embedding is very close to
the query is most likely the same anatomy in another subject (a "semantic collision"); pushing
it away would fight the anatomy the method wants to learn, so it leaves the denominator.
"""

from __future__ import annotations

import torch


def prune_lookalike_negatives(
    negative_cosines: torch.Tensor, threshold: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mask every negative with `cos(query, negative) >= threshold`, for the whole batch at once.

    Args:
        negative_cosines: `(N, K)` cosine of each query with each negative.
        threshold: in (-1, 1]; the authors use 0.8.

    Returns:
        `(N, K)` cosines with pruned entries set to -inf (so they vanish from a softmax or
        log-sum-exp), and the pruned fraction of the `N * K` entries (a 0-dim detached tensor).
    """
    if not -1.0 < threshold <= 1.0:
        raise ValueError(f"prune threshold must be in (-1, 1], got {threshold}")
    pruned = negative_cosines.detach() >= threshold  # (N, K)
    masked = negative_cosines.masked_fill(pruned, float("-inf"))
    fraction = pruned.float().mean() if pruned.numel() else negative_cosines.new_zeros(())
    return masked, fraction
