import torch

from anatomy_ssl.methods.collapse_monitor import embedding_statistics


def test_spread_embeddings_are_healthy_and_collapsed_ones_are_flagged():
    generator = torch.Generator().manual_seed(0)
    healthy = embedding_statistics(torch.randn(64, 16, generator=generator))
    assert 0.8 < healthy.normalized_std < 1.2 and healthy.effective_rank > 10
    assert not healthy.collapsed
    constant = torch.ones(64, 16) + 1e-6 * torch.randn(64, 16, generator=generator)
    collapsed = embedding_statistics(constant)
    assert collapsed.normalized_std < 0.01 and collapsed.collapsed


def test_effective_rank_counts_the_used_dimensions():
    generator = torch.Generator().manual_seed(1)
    basis = torch.randn(3, 32, generator=generator)
    rank_three = torch.randn(200, 3, generator=generator) @ basis  # (200, 32) in a 3-dim subspace
    statistics = embedding_statistics(rank_three)
    assert 1.5 < statistics.effective_rank <= 3.01
