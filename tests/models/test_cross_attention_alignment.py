"""CrossAttentionAlignment: a plain-tensor oracle of the post-LN cross-attention block, its
symmetries in queries and context, and the token order of `feature_map_tokens`."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from anatomy_ssl.models.cross_attention_alignment import (
    CrossAttentionAlignment,
    feature_map_tokens,
)

DIM, HEADS = 8, 2


def _block(context_dim: int | None = None, seed: int = 0) -> CrossAttentionAlignment:
    """A float64 block whose every parameter (LayerNorm gains and biases included) is random, so
    that no term of the oracle hides behind a default of 0 or 1."""
    torch.manual_seed(seed)
    block = CrossAttentionAlignment(DIM, heads=HEADS, mlp_ratio=1.5, context_dim=context_dim)
    block.double()
    with torch.no_grad():
        for parameter in block.parameters():
            parameter.copy_(0.4 * torch.randn_like(parameter))
    return block


def _layer_norm(x: torch.Tensor, norm: nn.LayerNorm) -> torch.Tensor:
    mean = x.mean(dim=-1, keepdim=True)
    variance = ((x - mean) ** 2).mean(dim=-1, keepdim=True)
    return (x - mean) / torch.sqrt(variance + norm.eps) * norm.weight + norm.bias


def _linear(x: torch.Tensor, layer: nn.Linear) -> torch.Tensor:
    return x @ layer.weight.T + layer.bias


def _oracle(
    block: CrossAttentionAlignment, queries: torch.Tensor, context: torch.Tensor
) -> torch.Tensor:
    """The block re-stated with plain tensor ops and the module's own weights: per-head scaled
    dot-product softmax attention from the packed `in_proj`, `out_proj`, the two LayerNorms after
    the residual sums, and an exact-erf GELU MLP."""
    if isinstance(block.context_projection, nn.Linear):
        context = _linear(context, block.context_projection)
    attention = block.attention
    head_dim = DIM // HEADS
    w_q, w_k, w_v = attention.in_proj_weight.chunk(3)
    b_q, b_k, b_v = attention.in_proj_bias.chunk(3)
    q = (queries @ w_q.T + b_q).unflatten(-1, (HEADS, head_dim))  # (B, Nq, H, hd)
    k = (context @ w_k.T + b_k).unflatten(-1, (HEADS, head_dim))  # (B, Nk, H, hd)
    v = (context @ w_v.T + b_v).unflatten(-1, (HEADS, head_dim))  # (B, Nk, H, hd)
    scores = torch.einsum("bqhd,bkhd->bhqk", q, k) / math.sqrt(head_dim)
    weights = torch.exp(scores - scores.amax(dim=-1, keepdim=True))
    weights = weights / weights.sum(dim=-1, keepdim=True)  # softmax over the context tokens
    heads = torch.einsum("bhqk,bkhd->bqhd", weights, v).flatten(2)  # (B, Nq, dim)
    attended = _linear(heads, attention.out_proj)
    x = _layer_norm(queries + attended, block.norm_1)
    hidden = _linear(x, block.mlp[0])
    hidden = 0.5 * hidden * (1.0 + torch.erf(hidden / math.sqrt(2.0)))
    return _layer_norm(x + _linear(hidden, block.mlp[2]), block.norm_2)


@pytest.mark.parametrize("context_dim", [DIM, 6])
@pytest.mark.parametrize(
    ("query_spatial", "context_spatial"), [((2, 3), (3, 4)), ((2, 1, 2), (2, 3, 2))]
)
def test_matches_the_plain_tensor_oracle_with_gradients(
    context_dim, query_spatial, context_spatial
):
    block = _block(context_dim)
    expected_projection = nn.Identity if context_dim == DIM else nn.Linear
    assert isinstance(block.context_projection, expected_projection)
    generator = torch.Generator().manual_seed(1)
    bottleneck = torch.randn(2, DIM, *query_spatial, dtype=torch.float64, generator=generator)
    decoder = torch.randn(
        2, context_dim, *context_spatial, dtype=torch.float64, generator=generator
    )
    queries = feature_map_tokens(bottleneck).requires_grad_()
    context = feature_map_tokens(decoder).requires_grad_()
    output = block(queries, context)
    expected = _oracle(block, queries, context)
    assert output.shape == (2, math.prod(query_spatial), DIM)
    torch.testing.assert_close(output, expected)
    upstream = torch.randn(output.shape, dtype=torch.float64, generator=generator)
    grads = torch.autograd.grad(output, (queries, context), upstream)
    expected_grads = torch.autograd.grad(expected, (queries, context), upstream)
    torch.testing.assert_close(grads, expected_grads)
    assert all(bool(g.abs().sum() > 0) for g in grads)


@pytest.mark.parametrize("context_dim", [DIM, 6])
def test_equivariant_in_queries_and_invariant_in_context_tokens(context_dim):
    block = _block(context_dim, seed=2)
    generator = torch.Generator().manual_seed(3)
    queries = torch.randn(2, 5, DIM, dtype=torch.float64, generator=generator)
    context = torch.randn(2, 7, context_dim, dtype=torch.float64, generator=generator)
    output = block(queries, context)
    query_order = torch.randperm(5, generator=generator)
    context_order = torch.randperm(7, generator=generator)
    torch.testing.assert_close(block(queries[:, query_order], context), output[:, query_order])
    torch.testing.assert_close(block(queries, context[:, context_order]), output)
    # the symmetries are not vacuous: the output follows both inputs
    other_context = torch.randn(2, 7, context_dim, dtype=torch.float64, generator=generator)
    assert not torch.allclose(block(queries, other_context), output)
    assert not torch.allclose(block(queries.flip(-1), context), output)


def test_each_query_reads_the_context_only_and_each_sample_its_own():
    block = _block(seed=4)
    generator = torch.Generator().manual_seed(5)
    queries = torch.randn(2, 4, DIM, dtype=torch.float64, generator=generator)
    context = torch.randn(2, 6, DIM, dtype=torch.float64, generator=generator)
    output = block(queries, context)
    changed_query = queries.clone()
    changed_query[0, 1] += 1.0
    changed = block(changed_query, context)
    unchanged_rows = torch.ones(2, 4, dtype=torch.bool)
    unchanged_rows[0, 1] = False
    torch.testing.assert_close(changed[unchanged_rows], output[unchanged_rows])
    assert not torch.allclose(changed[0, 1], output[0, 1])
    changed_context = context.clone()
    changed_context[1, 3] += 1.0
    changed = block(queries, changed_context)
    torch.testing.assert_close(changed[0], output[0])  # no mixing across the batch
    assert not torch.allclose(changed[1], output[1])


def test_one_context_token_is_attended_with_weight_one():
    block = _block(context_dim=6, seed=6)
    context = torch.randn(1, 1, 6, dtype=torch.float64)
    queries = torch.randn(1, 3, DIM, dtype=torch.float64)
    value = block.attention.out_proj(
        block.context_projection(context) @ block.attention.in_proj_weight[2 * DIM :].T
        + block.attention.in_proj_bias[2 * DIM :]
    )  # (1, 1, dim): every query gets the one value, whatever its score
    x = block.norm_1(queries + value)
    torch.testing.assert_close(block(queries, context), block.norm_2(x + block.mlp(x)))


def test_feature_map_tokens_follow_c_order():
    image = torch.arange(12).reshape(1, 2, 2, 3)  # (B, C, H, W): channel 1 is channel 0 + 6
    expected = torch.tensor([[0, 6], [1, 7], [2, 8], [3, 9], [4, 10], [5, 11]])
    assert torch.equal(feature_map_tokens(image), expected[None])
    volume = torch.randn(2, 3, 2, 4, 5)  # (B, C, D, H, W)
    tokens = feature_map_tokens(volume)
    assert tokens.shape == (2, 40, 3)
    for d in range(2):
        for h in range(4):
            for w in range(5):
                assert torch.equal(tokens[:, (d * 4 + h) * 5 + w], volume[:, :, d, h, w])


def test_rejects_bad_shapes():
    with pytest.raises(ValueError, match="divisible by heads"):
        CrossAttentionAlignment(10, heads=4)
    with pytest.raises(ValueError, match="feature_map"):
        feature_map_tokens(torch.randn(2, 3, 4))
    block = CrossAttentionAlignment(DIM, heads=HEADS, context_dim=6)
    with pytest.raises(ValueError, match="context"):
        block(torch.randn(1, 2, DIM), torch.randn(1, 3, DIM))
    with pytest.raises(ValueError, match="queries"):
        block(torch.randn(1, 2, 6), torch.randn(1, 3, 6))
