"""DINOHead: normalized bottleneck, unit-norm prototypes with a frozen weight-norm gain."""

import copy

import pytest
import torch
from torch.nn import functional

from anatomy_ssl.models import DINOHead


def _head(**kwargs):
    torch.manual_seed(0)
    return DINOHead(8, out_dim=32, hidden_dim=16, bottleneck_dim=6, **kwargs)


def _prototypes(head):
    return head.last_layer.weight  # (K, bottleneck_dim), recomputed from g and v


def test_logits_are_cosine_similarities_with_a_normalized_last_layer():
    head = _head()
    logits = head(100 * torch.randn(10, 8))
    assert logits.shape == (10, 32)
    assert logits.abs().max() <= 1 + 1e-5
    assert torch.allclose(_prototypes(head).norm(dim=1), torch.ones(32), atol=1e-5)
    code = functional.normalize(head.mlp(torch.randn(10, 8)), dim=-1)
    assert torch.allclose(code.norm(dim=1), torch.ones(10))


def test_output_ignores_the_scale_of_the_bottleneck():
    head = _head()
    x = torch.randn(4, 8)
    last = head.mlp[-1]
    with torch.no_grad():
        last.weight.mul_(7.0)
        last.bias.mul_(7.0)
    scaled = head(x)
    with torch.no_grad():
        last.weight.div_(7.0)
        last.bias.div_(7.0)
    assert torch.allclose(scaled, head(x), atol=1e-6)


def test_gain_is_frozen_only_with_norm_last_layer():
    frozen = _head()
    gain = frozen.last_layer.parametrizations.weight.original0
    assert not gain.requires_grad and torch.equal(gain, torch.ones(32, 1))
    frozen(torch.randn(4, 8)).sum().backward()
    assert gain.grad is None
    trainable = _head(norm_last_layer=False)
    trainable_gain = trainable.last_layer.parametrizations.weight.original0
    assert trainable_gain.requires_grad
    with torch.no_grad():
        trainable_gain.fill_(3.0)
    assert trainable(100 * torch.randn(50, 8)).abs().max() > 1


@pytest.mark.parametrize("num_layers", [1, 2, 3])
def test_mlp_depth_and_copies(num_layers):
    head = _head(num_layers=num_layers)
    linears = [m for m in head.mlp if isinstance(m, torch.nn.Linear)]
    assert len(linears) == num_layers
    teacher = copy.deepcopy(head).requires_grad_(False)
    x = torch.randn(3, 8)
    assert torch.equal(teacher(x), head(x))


def test_needs_a_layer():
    with pytest.raises(ValueError, match="num_layers"):
        DINOHead(8, num_layers=0)


def test_batch_norm_in_the_head_separates_inputs_that_share_one_dominant_direction():
    # pooled CNN embeddings: one large shared direction plus small per-sample differences
    torch.manual_seed(0)
    shared = 100.0 * torch.nn.functional.normalize(torch.randn(1, 32), dim=1)
    x = shared + 0.05 * torch.randn(16, 32)

    @torch.no_grad()
    def mean_pairwise_cosine(head: DINOHead) -> float:
        codes = torch.nn.functional.normalize(head.mlp(x), dim=1)
        cosines = codes @ codes.T
        return float(cosines[~torch.eye(16, dtype=torch.bool)].mean())

    plain = DINOHead(32, out_dim=64, hidden_dim=64, bottleneck_dim=16)
    normed = DINOHead(32, out_dim=64, hidden_dim=64, bottleneck_dim=16, batch_norm=True)
    assert sum(isinstance(m, torch.nn.BatchNorm1d) for m in normed.mlp) == 2  # after each hidden
    assert mean_pairwise_cosine(plain) > 0.99  # every sample gets the same code
    assert mean_pairwise_cosine(normed) < 0.5
