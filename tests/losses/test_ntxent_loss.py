from __future__ import annotations

import math

import pytest
import torch

from anatomy_ssl.losses import NTXentLoss


def _oracle_ntxent(z1: torch.Tensor, z2: torch.Tensor, temperature: float) -> torch.Tensor:
    """SimCLR eq. 1 written out: l(i, j) = -log exp(sim(z_i, z_j)/T) / sum_{k != i} exp(sim/T),
    averaged over all 2N anchors; sim is the cosine similarity."""
    z = [*z1, *z2]  # 2N vectors: view 1 of every sample, then view 2
    n = z1.shape[0]

    def sim(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return (u * v).sum() / (u.norm() * v.norm())

    total = z1.new_zeros(())
    for i in range(2 * n):
        j = i + n if i < n else i - n
        numerator = torch.exp(sim(z[i], z[j]) / temperature)
        denominator = z1.new_zeros(())
        for k in range(2 * n):
            if k != i:
                denominator = denominator + torch.exp(sim(z[i], z[k]) / temperature)
        total = total - torch.log(numerator / denominator)
    return total / (2 * n)


@pytest.mark.parametrize("n", [1, 2, 5])
@pytest.mark.parametrize("temperature", [0.1, 0.5])
def test_matches_the_paper_equation_with_gradients(n, temperature):
    generator = torch.Generator().manual_seed(n)
    z1 = torch.randn(n, 4, dtype=torch.float64, generator=generator, requires_grad=True)
    z2 = torch.randn(n, 4, dtype=torch.float64, generator=generator, requires_grad=True)
    loss = NTXentLoss(temperature=temperature)(z1, z2)
    expected = _oracle_ntxent(z1, z2, temperature)
    torch.testing.assert_close(loss, expected)
    grads = torch.autograd.grad(loss, (z1, z2))
    expected_grads = torch.autograd.grad(expected, (z1, z2))
    torch.testing.assert_close(grads, expected_grads)


def test_single_sample_has_no_negatives_and_zero_loss():
    z = torch.randn(1, 3, dtype=torch.float64)
    torch.testing.assert_close(
        NTXentLoss()(z, torch.randn(1, 3, dtype=torch.float64)), z.new_zeros(())
    )


def test_aligned_views_score_lower_than_random_views():
    generator = torch.Generator().manual_seed(0)
    z1 = torch.randn(8, 16, generator=generator)
    loss = NTXentLoss(temperature=0.2)
    aligned = loss(z1, 3.0 * z1)  # same directions, another scale
    unrelated = loss(z1, torch.randn(8, 16, generator=generator))
    assert aligned < unrelated - 1.0


def test_is_finite_with_a_tiny_temperature_and_identical_views():
    z = torch.randn(4, 8, requires_grad=True)
    loss = NTXentLoss(temperature=1e-3)(z, z)
    loss.backward()
    assert torch.isfinite(loss)
    assert z.grad is not None and torch.isfinite(z.grad).all()


def test_orthogonal_aligned_pairs_reach_the_analytic_value():
    # Views identical, samples orthogonal: positive logit 1/T, 2N-2 negatives at 0.
    n, temperature = 3, 0.5
    z = torch.eye(n, dtype=torch.float64)
    expected = -math.log(math.exp(1 / temperature) / (math.exp(1 / temperature) + 2 * n - 2))
    loss = NTXentLoss(temperature=temperature)(z, z)
    torch.testing.assert_close(loss, torch.tensor(expected, dtype=torch.float64))


def test_without_distribution_gathering_changes_nothing():
    z1, z2 = torch.randn(4, 5), torch.randn(4, 5)
    torch.testing.assert_close(
        NTXentLoss(gather_across_ranks=True)(z1, z2), NTXentLoss(gather_across_ranks=False)(z1, z2)
    )


def test_rejects_bad_arguments():
    with pytest.raises(ValueError, match="temperature"):
        NTXentLoss(temperature=0.0)
    with pytest.raises(ValueError, match="shape"):
        NTXentLoss()(torch.randn(4, 5), torch.randn(3, 5))
