"""`CrossAttentionAlignment`: the post-LN cross-attention block of Alice's conditional anatomical
feature alignment (CAFA), and `feature_map_tokens`, which turns a 2D/3D feature map into tokens.

Queries are the student's bottleneck tokens of a masked view; keys and values are the tokens the
alignment is conditioned on (the student's decoder tokens, or the EMA teacher's tokens).
"""

from __future__ import annotations

import torch
from torch import nn


def feature_map_tokens(feature_map: torch.Tensor) -> torch.Tensor:
    """`(B, C, *S)` -> `(B, N, C)` with `N = prod(S)`, for a 2D (`S = (H, W)`) or 3D
    (`S = (D, H, W)`) feature map.

    Token `n` is the voxel at row-major (C order) position `n` of `S`: the last spatial axis
    varies fastest, as in `feature_map[b, :].flatten(1)`.
    """
    if feature_map.ndim not in (4, 5):
        raise ValueError(
            f"feature_map must be (B, C, H, W) or (B, C, D, H, W), got {tuple(feature_map.shape)}"
        )
    return feature_map.flatten(2).transpose(1, 2)


class CrossAttentionAlignment(nn.Module):
    """Cross-attention block of Alice's conditional anatomical feature alignment (Jiang et al.,
    "Anatomical Invariance Modeling and Semantic Alignment for Self-supervised Learning in 3D
    Medical Image Analysis", ICCV 2023).

    Every query token gathers, by multi-head attention, the context tokens that match it, and a
    token-wise MLP refines the result. With `ctx = P(context)` (`P` a linear map to `dim` when
    `context_dim != dim`, else the identity)::

        x   = LN_1(queries + MHA(queries, ctx, ctx))
        out = LN_2(x + W_2 GELU(W_1 x))

    The block is post-LN, as the paper describes: the LayerNorm follows each residual sum (the
    original Transformer's order) rather than preceding each sub-layer, so the aligned tokens
    leave the block standardized per token whichever branch's context (student decoder tokens
    or EMA teacher tokens) they attended to, and the alignment loss compares tokens of one scale.

    Each query is aligned independently of the others (permutation-equivariant in the queries),
    and the context is read as an unordered set (permutation-invariant in the context tokens):
    attach positional information to the tokens beforehand where it matters.

    Args:
        dim: width of the queries and of the output.
        heads: attention heads; must divide `dim`.
        mlp_ratio: hidden width of the MLP as a multiple of `dim`.
        context_dim: width of the context tokens (default: `dim`).
    """

    def __init__(
        self,
        dim: int,
        *,
        heads: int = 4,
        mlp_ratio: float = 2.0,
        context_dim: int | None = None,
    ) -> None:
        super().__init__()
        if heads < 1 or dim % heads != 0:
            raise ValueError(f"dim ({dim}) must be divisible by heads ({heads}), heads >= 1")
        self.dim = dim
        self.context_dim = dim if context_dim is None else context_dim
        self.context_projection: nn.Module = (
            nn.Identity() if self.context_dim == dim else nn.Linear(self.context_dim, dim)
        )
        self.attention = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.norm_1 = nn.LayerNorm(dim)
        hidden = round(mlp_ratio * dim)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))
        self.norm_2 = nn.LayerNorm(dim)

    def forward(self, queries: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        """Align the queries to the context.

        Args:
            queries: `(B, Nq, dim)`, e.g. the student's bottleneck tokens of a masked view.
            context: `(B, Nk, context_dim)`, the tokens to align to (see `feature_map_tokens`).

        Returns:
            `(B, Nq, dim)` aligned tokens.
        """
        if queries.shape[-1] != self.dim or context.shape[-1] != self.context_dim:
            raise ValueError(
                f"expected queries (B, Nq, {self.dim}) and context (B, Nk, {self.context_dim}), "
                f"got {tuple(queries.shape)} and {tuple(context.shape)}"
            )
        keys = self.context_projection(context)  # (B, Nk, dim)
        attended, _ = self.attention(queries, keys, keys, need_weights=False)  # (B, Nq, dim)
        x = self.norm_1(queries + attended)
        return self.norm_2(x + self.mlp(x))
