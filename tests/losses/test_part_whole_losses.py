from __future__ import annotations

import pytest
import torch
from torch import nn

from anatomy_ssl.losses import composability_loss, cosine_distance, decomposability_loss


def _cos(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a * b).sum() / (a.norm() * b.norm())


def _oracle_composability(student_parts, teacher_whole, composer):
    """Adam-v2's L_comp per whole: 2 - 2 cos(h_C(concat_i s(P_i)/|s(P_i)|), t(w))."""
    total = student_parts.new_zeros(())
    for parts, whole in zip(student_parts, teacher_whole, strict=True):
        concatenated = torch.cat([part / part.norm() for part in parts])
        total = total + 2 - 2 * _cos(composer(concatenated[None])[0], whole)
    return total / len(student_parts)


def _oracle_decomposability(student_whole, teacher_parts, decomposer):
    """Adam-v2's L_decomp per whole and part: 2 - 2 cos(chunk_i(h_D(s(w)/|s(w)|)), t(P_i))."""
    total = student_whole.new_zeros(())
    count = 0
    for whole, parts in zip(student_whole, teacher_parts, strict=True):
        chunks = decomposer((whole / whole.norm())[None])[0].chunk(len(parts))
        for chunk, part in zip(chunks, parts, strict=True):
            total = total + 2 - 2 * _cos(chunk, part)
            count += 1
    return total / count


@pytest.mark.parametrize("parts", [4, 8])
def test_composability_matches_its_equation_with_gradients(parts):
    torch.manual_seed(0)
    composer = nn.Linear(parts * 6, 6).double()
    student = torch.randn(3, parts, 6, dtype=torch.float64, requires_grad=True)
    teacher = torch.randn(3, 6, dtype=torch.float64)
    loss = composability_loss(student, teacher, composer)
    expected = _oracle_composability(student, teacher, composer)
    torch.testing.assert_close(loss, expected)
    (grad,) = torch.autograd.grad(loss, student, retain_graph=True)
    (expected_grad,) = torch.autograd.grad(expected, student)
    torch.testing.assert_close(grad, expected_grad)


@pytest.mark.parametrize("parts", [4, 8])
def test_decomposability_matches_its_equation_with_gradients(parts):
    torch.manual_seed(1)
    decomposer = nn.Linear(6, parts * 6).double()
    student = torch.randn(3, 6, dtype=torch.float64, requires_grad=True)
    teacher = torch.randn(3, parts, 6, dtype=torch.float64)
    loss = decomposability_loss(student, teacher, decomposer)
    expected = _oracle_decomposability(student, teacher, decomposer)
    torch.testing.assert_close(loss, expected)
    (grad,) = torch.autograd.grad(loss, student, retain_graph=True)
    (expected_grad,) = torch.autograd.grad(expected, student)
    torch.testing.assert_close(grad, expected_grad)


def test_each_part_is_normalized_on_its_own_so_part_scale_does_not_matter():
    torch.manual_seed(2)
    composer = nn.Linear(4 * 5, 5)
    student = torch.randn(2, 4, 5)
    scaled = student * torch.tensor([1.0, 10.0, 0.1, 3.0])[None, :, None]
    teacher = torch.randn(2, 5)
    torch.testing.assert_close(
        composability_loss(student, teacher, composer),
        composability_loss(scaled, teacher, composer),
    )


def test_reachable_targets_give_zero_and_the_scale_is_that_of_two_minus_two_cos():
    target = torch.randn(4, 8, 3)
    identity = nn.Identity()
    # a decomposer that outputs the targets themselves (up to scale) reaches zero loss
    assert float(cosine_distance(5.0 * target, target)) == pytest.approx(0.0, abs=1e-6)
    assert float(cosine_distance(-target, target)) == pytest.approx(4.0)
    whole = torch.randn(4, 3)
    parts = whole[:, None, :].expand(4, 8, 3)
    loss = decomposability_loss(whole, parts, nn.Sequential(identity, _Repeat(8)))
    assert float(loss) == pytest.approx(0.0, abs=1e-6)


def test_targets_get_no_gradient_and_shapes_must_match():
    target = torch.randn(3, 4, requires_grad=True)
    cosine_distance(torch.randn(3, 4, requires_grad=True), target).backward()
    assert target.grad is None
    with pytest.raises(ValueError, match="shapes differ"):
        cosine_distance(torch.randn(3, 4), torch.randn(3, 5))


class _Repeat(nn.Module):
    def __init__(self, times: int) -> None:
        super().__init__()
        self.times = times

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.repeat(1, self.times)
