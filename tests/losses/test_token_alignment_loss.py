"""token_alignment_loss: BYOL's 2 - 2 cos per token, blind to scale, target detached, float32."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional

from anatomy_ssl.losses.token_alignment_loss import token_alignment_loss


def _tokens(seed: int, shape=(2, 5, 6), dtype=torch.float64) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(shape, dtype=dtype, generator=generator)


def _oracle(student: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Squared distance of the per-token L2-normalized vectors, averaged over (B, N)."""
    difference = functional.normalize(student, dim=-1) - functional.normalize(target, dim=-1)
    return (difference**2).sum(dim=-1).mean()


def test_matches_the_normalized_squared_error_with_gradients():
    student = _tokens(0).requires_grad_()
    target = _tokens(1)
    loss = token_alignment_loss(student, target)
    expected = _oracle(student, target)
    assert loss.shape == ()
    torch.testing.assert_close(loss, expected)
    (grad,) = torch.autograd.grad(loss, student)
    (expected_grad,) = torch.autograd.grad(expected, student)
    torch.testing.assert_close(grad, expected_grad)


def test_zero_for_matching_directions_and_four_for_opposite_ones():
    student = _tokens(2)
    zero = torch.zeros((), dtype=torch.float64)
    torch.testing.assert_close(token_alignment_loss(student, student.clone()), zero)
    torch.testing.assert_close(token_alignment_loss(student, 3.0 * student), zero)
    torch.testing.assert_close(token_alignment_loss(0.5 * student, student), zero)
    four = torch.full((), 4.0, dtype=torch.float64)
    torch.testing.assert_close(token_alignment_loss(student, -2.0 * student), four)


def test_no_gradient_flows_into_the_target():
    teacher = torch.nn.Linear(6, 6)
    student = _tokens(3, dtype=torch.float32).requires_grad_()
    target = teacher(_tokens(4, dtype=torch.float32))
    token_alignment_loss(student, target).backward()
    assert student.grad is not None and bool(student.grad.abs().sum() > 0)
    assert teacher.weight.grad is None and teacher.bias.grad is None


def test_bf16_inputs_give_a_finite_float32_loss():
    student = _tokens(5, shape=(2, 64, 32), dtype=torch.bfloat16).requires_grad_()
    target = _tokens(6, shape=(2, 64, 32), dtype=torch.bfloat16)
    loss = token_alignment_loss(student, target)
    assert loss.dtype == torch.float32 and torch.isfinite(loss)
    torch.testing.assert_close(loss, _oracle(student.detach().float(), target.float()))
    loss.backward()
    assert student.grad is not None and student.grad.dtype == torch.bfloat16
    assert torch.isfinite(student.grad).all()


def test_rejects_mismatched_or_non_token_shapes():
    with pytest.raises(ValueError, match="shape"):
        token_alignment_loss(_tokens(7), _tokens(8, shape=(2, 4, 6)))
    with pytest.raises(ValueError, match="shape"):
        token_alignment_loss(_tokens(7, shape=(5, 6)), _tokens(8, shape=(5, 6)))
