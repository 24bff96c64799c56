from __future__ import annotations

import copy
import math

import pytest
import torch
from torch import nn

from anatomy_ssl.models.ema_update import cosine_momentum, ema_update_


def _pair() -> tuple[nn.Module, nn.Module]:
    torch.manual_seed(0)
    student = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    teacher = copy.deepcopy(student)
    with torch.no_grad():
        for p in student.parameters():
            p.add_(torch.randn_like(p))
    student(torch.randn(5, 3))  # moves the running statistics and num_batches_tracked
    return teacher, student


def _tensors(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in module.state_dict().items()}


def test_momentum_zero_copies_the_student():
    teacher, student = _pair()
    ema_update_(teacher, student, momentum=0.0)
    for name, value in _tensors(student).items():
        torch.testing.assert_close(teacher.state_dict()[name], value, rtol=0, atol=0)


def test_momentum_one_keeps_the_teacher_but_copies_integer_buffers():
    teacher, student = _pair()
    before = _tensors(teacher)
    ema_update_(teacher, student, momentum=1.0)
    for name, value in before.items():
        if name.endswith("num_batches_tracked"):
            assert int(teacher.state_dict()[name]) == int(student.state_dict()[name]) == 1
        else:
            torch.testing.assert_close(teacher.state_dict()[name], value, rtol=0, atol=0)


def test_blends_parameters_and_float_buffers():
    teacher, student = _pair()
    before, target = _tensors(teacher), _tensors(student)
    ema_update_(teacher, student, momentum=0.75)
    for name, value in teacher.state_dict().items():
        if value.is_floating_point():
            torch.testing.assert_close(value, 0.75 * before[name] + 0.25 * target[name])
    assert not any(p.grad is not None for p in teacher.parameters())


def test_rejects_mismatched_modules_and_bad_momentum():
    teacher, student = _pair()
    with pytest.raises(ValueError, match="momentum"):
        ema_update_(teacher, student, momentum=1.1)
    with pytest.raises(ValueError, match="differ"):
        ema_update_(nn.Linear(3, 4), nn.Linear(3, 4, bias=False), momentum=0.5)
    with pytest.raises(ValueError, match="weight"):
        ema_update_(nn.Linear(3, 4), nn.Linear(3, 5), momentum=0.5)


@pytest.mark.parametrize("base", [0.9, 0.996])
def test_cosine_momentum_endpoints_and_midpoint(base):
    assert cosine_momentum(0, 100, base=base) == pytest.approx(base)
    assert cosine_momentum(50, 100, base=base) == pytest.approx((base + 1.0) / 2)
    assert cosine_momentum(100, 100, base=base) == pytest.approx(1.0)
    assert cosine_momentum(500, 100, base=base) == pytest.approx(1.0)
    assert cosine_momentum(100, 100, base=base, final=0.999) == pytest.approx(0.999)


def test_cosine_momentum_follows_the_half_cosine_monotonically():
    values = [cosine_momentum(s, 10, base=0.9) for s in range(11)]
    assert values == sorted(values)
    expected = 1.0 - 0.1 * (1 + math.cos(math.pi * 0.3)) / 2
    assert values[3] == pytest.approx(expected)


def test_cosine_momentum_rejects_bad_steps():
    with pytest.raises(ValueError, match="total_steps"):
        cosine_momentum(0, 0, base=0.9)
