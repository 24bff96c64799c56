import math

import pytest

from anatomy_ssl.models.learning_rate_schedule import warmup_cosine_factor


def test_warmup_rises_linearly_then_cosine_decays_to_the_floor():
    kwargs = {"warmup_steps": 4, "max_steps": 14, "min_ratio": 0.1}
    assert [warmup_cosine_factor(s, **kwargs) for s in range(4)] == pytest.approx(
        [0.2, 0.4, 0.6, 0.8]
    )
    assert warmup_cosine_factor(4, **kwargs) == pytest.approx(1.0)
    middle = 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 0.5))
    assert warmup_cosine_factor(9, **kwargs) == pytest.approx(middle)
    assert warmup_cosine_factor(14, **kwargs) == pytest.approx(0.1)
    assert warmup_cosine_factor(100, **kwargs) == pytest.approx(0.1)
