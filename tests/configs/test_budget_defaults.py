import math

import pytest

from anatomy_ssl.configs import budget_defaults
from anatomy_ssl.models.ema_update import cosine_momentum


@pytest.mark.parametrize("steps", [250, 1000, 2000])
def test_a_cosine_teacher_keeps_about_one_percent_of_its_init(steps):
    base = budget_defaults.cosine_teacher_momentum(steps)
    # oracle: multiply the momentum of every step of the schedule
    share = math.prod(cosine_momentum(step, steps, base=base) for step in range(steps))
    assert share == pytest.approx(0.01, rel=0.1)  # ln m ~ -(1 - m) is a first-order estimate


@pytest.mark.parametrize("steps", [250, 1000])
def test_a_constant_momentum_key_encoder_keeps_one_percent_of_its_init(steps):
    momentum = budget_defaults.constant_teacher_momentum(steps)
    assert momentum**steps == pytest.approx(0.01, rel=0.05)


def test_long_runs_get_the_papers_values_and_short_ones_are_clipped():
    assert budget_defaults.cosine_teacher_momentum(10**6) == 0.996
    assert budget_defaults.constant_teacher_momentum(10**6) == 0.999
    assert budget_defaults.cosine_teacher_momentum(10) == 0.9
    assert budget_defaults.queue_size(256, 10**6) == 65536
    assert budget_defaults.head_width(256, 10**6) == 65536
    assert budget_defaults.head_width(2, 3) == 64


def test_the_queue_fills_in_a_tenth_of_the_run_and_heads_see_16_samples_per_prototype():
    assert budget_defaults.queue_size(8, 250) == 200  # 25 steps of 8 keys
    assert budget_defaults.queue_size(8, 5) == 8
    width = budget_defaults.head_width(16, 20000)
    assert width == 16384 and 16 * 20000 / width >= 16 > 16 * 20000 / (2 * width)


def test_an_unresolved_auto_value_is_refused():
    with pytest.raises(ValueError, match="unresolved"):
        budget_defaults.resolved("auto")
    assert budget_defaults.resolved(3) == 3
