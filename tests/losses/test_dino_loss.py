from __future__ import annotations

import pytest
import torch

from anatomy_ssl.losses import DINOLoss


def _oracle_dino(
    student: list[torch.Tensor],
    teacher: list[torch.Tensor],
    center: torch.Tensor,
    teacher_temperature: float,
    student_temperature: float,
) -> torch.Tensor:
    """Caron et al. 2021 eq. 2-3 written out per sample: H(P_t, P_s) = -sum_k P_t[k] log P_s[k]
    with P_t = softmax((g_t - c)/Tt), P_s = softmax(g_s/Ts), over pairs of different views."""
    pair_losses = []
    for t_index, t_view in enumerate(teacher):
        for s_index, s_view in enumerate(student):
            if s_index == t_index:
                continue
            per_sample = []
            for t_row, s_row in zip(t_view, s_view, strict=True):
                t_exp = torch.exp((t_row - center[0]) / teacher_temperature)
                p_teacher = t_exp / t_exp.sum()
                s_scaled = s_row / student_temperature
                log_p_student = s_scaled - torch.log(torch.exp(s_scaled).sum())
                per_sample.append(-(p_teacher * log_p_student).sum())
            pair_losses.append(torch.stack(per_sample).mean())
    return torch.stack(pair_losses).mean()


def _views(count: int, n: int, k: int, seed: int) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return [torch.randn(n, k, dtype=torch.float64, generator=generator) for _ in range(count)]


@pytest.mark.parametrize(("student_views", "teacher_views"), [(2, 2), (4, 2), (3, 1)])
@pytest.mark.parametrize("teacher_temperature", [0.04, 0.07])
def test_matches_the_paper_equation_with_gradients(
    student_views, teacher_views, teacher_temperature
):
    k = 6
    loss_fn = DINOLoss(k, teacher_temperature=teacher_temperature, student_temperature=0.1).double()
    center = torch.randn(1, k, dtype=torch.float64)
    loss_fn.center.copy_(center)
    student = [v.requires_grad_() for v in _views(student_views, 3, k, seed=1)]
    teacher = [v.requires_grad_() for v in _views(teacher_views, 3, k, seed=2)]
    loss = loss_fn(student, teacher)
    expected = _oracle_dino(student, teacher, center, teacher_temperature, 0.1)
    torch.testing.assert_close(loss, expected)
    # with one teacher view, student view 0 (the same crop) is in no pair: zero gradient
    grads = torch.autograd.grad(loss, student, retain_graph=True, materialize_grads=True)
    expected_grads = torch.autograd.grad(
        expected, student, retain_graph=True, materialize_grads=True
    )
    torch.testing.assert_close(grads, expected_grads)
    loss.backward()
    assert all(t.grad is None for t in teacher)  # the teacher is a target, never trained


def test_teacher_temperature_can_change_per_step():
    loss_fn = DINOLoss(5).double().eval()
    student, teacher = _views(3, 2, 5, seed=3), _views(2, 2, 5, seed=4)
    loss_fn.teacher_temperature = 0.02
    zero = torch.zeros(1, 5, dtype=torch.float64)
    torch.testing.assert_close(
        loss_fn(student, teacher), _oracle_dino(student, teacher, zero, 0.02, 0.1)
    )


def test_center_update_is_the_ema_of_the_teacher_batch_mean():
    loss_fn = DINOLoss(4, center_momentum=0.9).double()
    start = torch.randn(1, 4, dtype=torch.float64)
    loss_fn.center.copy_(start)
    teacher = _views(2, 3, 4, seed=5)
    loss_fn(_views(3, 3, 4, seed=6), teacher)
    batch_mean = torch.cat(teacher).mean(dim=0, keepdim=True)
    torch.testing.assert_close(loss_fn.center, 0.9 * start + 0.1 * batch_mean)
    assert "center" in loss_fn.state_dict()


def test_the_loss_uses_the_center_before_its_update():
    loss_fn = DINOLoss(4).double()
    student, teacher = _views(2, 3, 4, seed=7), _views(2, 3, 4, seed=8)
    zero = torch.zeros(1, 4, dtype=torch.float64)
    torch.testing.assert_close(
        loss_fn(student, teacher), _oracle_dino(student, teacher, zero, 0.04, 0.1)
    )


def test_eval_mode_leaves_the_center_alone():
    loss_fn = DINOLoss(4).eval()
    loss_fn([torch.randn(2, 4), torch.randn(2, 4)], [torch.randn(2, 4)])
    torch.testing.assert_close(loss_fn.center, torch.zeros(1, 4))


def test_a_student_that_matches_the_teacher_scores_lower():
    teacher = [10.0 * torch.randn(8, 16)] * 2
    loss_fn = DINOLoss(16).eval()
    matching = loss_fn([t.clone() for t in teacher], teacher)
    unrelated = loss_fn([10.0 * torch.randn(8, 16) for _ in teacher], teacher)
    assert matching < unrelated


def test_rejects_bad_arguments():
    with pytest.raises(ValueError, match="temperatures"):
        DINOLoss(4, teacher_temperature=0.0)
    with pytest.raises(ValueError, match="center_momentum"):
        DINOLoss(4, center_momentum=1.5)
    with pytest.raises(ValueError, match="two views"):
        DINOLoss(4)([torch.randn(2, 4)], [torch.randn(2, 4)])
    with pytest.raises(ValueError, match="teacher views"):
        DINOLoss(4)([torch.randn(2, 4)], [torch.randn(2, 4)] * 2)
