"""iBOT's masked patch loss against a loop over samples and tokens."""

import math

import pytest
import torch

from anatomy_ssl.losses.masked_patch_distillation_loss import MaskedPatchDistillationLoss


def _oracle(student, teacher, masked, center, tt=0.04, ts=0.1):
    total = 0.0
    for b in range(student.shape[0]):
        terms = []
        for n in range(student.shape[1]):
            if not masked[b, n]:
                continue
            target = torch.softmax((teacher[b, n] - center) / tt, dim=0)
            log_p = torch.log_softmax(student[b, n] / ts, dim=0)
            terms.append(-(target * log_p).sum())
        total = total + (sum(terms) / len(terms) if terms else 0.0)
    return total / student.shape[0]


def test_matches_a_loop_over_masked_tokens_with_gradients():
    generator = torch.Generator().manual_seed(0)
    student = torch.randn(3, 5, 7, generator=generator, requires_grad=True)
    teacher = torch.randn(3, 5, 7, generator=generator)
    masked = torch.rand(3, 5, generator=generator) > 0.5
    masked[2] = False  # a sample without masked tokens counts as 0
    loss_fn = MaskedPatchDistillationLoss(7).eval()  # eval: the centre stays at 0
    loss = loss_fn(student, teacher, masked)
    expected = _oracle(student, teacher, masked, torch.zeros(7))
    assert loss.item() == pytest.approx(float(expected), rel=1e-5)
    (grad,) = torch.autograd.grad(loss, student)
    (expected_grad,) = torch.autograd.grad(expected, student)
    torch.testing.assert_close(grad, expected_grad)
    assert grad[~masked].abs().max() == 0  # unmasked tokens get no gradient


def test_the_centre_is_the_teacher_token_mean_after_the_first_batch():
    teacher = torch.randn(2, 4, 3)
    loss_fn = MaskedPatchDistillationLoss(3)
    student = torch.zeros(2, 4, 3, requires_grad=True)
    loss = loss_fn(student, teacher, torch.ones(2, 4, dtype=torch.bool))
    torch.testing.assert_close(loss_fn.center.center[0], teacher.reshape(-1, 3).mean(dim=0))
    assert loss.item() == pytest.approx(math.log(3), rel=1e-5)  # a uniform student: ln K


def test_shapes_are_checked():
    loss_fn = MaskedPatchDistillationLoss(3)
    with pytest.raises(ValueError, match="one shape"):
        loss_fn(torch.zeros(2, 4, 3), torch.zeros(2, 5, 3), torch.ones(2, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match="masked"):
        loss_fn(torch.zeros(2, 4, 3), torch.zeros(2, 4, 3), torch.ones(2, 5, dtype=torch.bool))
