import math

import pytest
import yaml

from anatomy_ssl.training import budget_defaults
from anatomy_ssl.training.ema_update import cosine_momentum
from anatomy_ssl.training.pretrain_config import resolve_pretrain_config, save_pretrain_config


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


def test_auto_settings_resolve_to_numbers_in_the_saved_config_and_explicit_ones_stay(tmp_path):
    config = resolve_pretrain_config(
        {"optim.max_steps": 250, "data.batch_size": 8, "dino.momentum": 0.996}
    )
    assert config.moco.queue_size == 200 and config.eden_v1.queue_size == 200
    assert config.moco.momentum == pytest.approx(1 - math.log(100) / 250)
    assert config.dino.out_dim == 64 and config.eden.out_dim == 64
    assert config.dino.momentum == 0.996  # given explicitly
    assert config.eden.momentum == pytest.approx(1 - 2 * math.log(100) / 250)
    save_pretrain_config(config, tmp_path / "config.yaml")
    saved = yaml.safe_load((tmp_path / "config.yaml").read_text())
    assert saved["moco"]["queue_size"] == 200 and saved["dino"]["out_dim"] == 64
    assert resolve_pretrain_config(saved) == config


def test_an_unresolved_auto_value_is_refused():
    with pytest.raises(ValueError, match="unresolved"):
        budget_defaults.resolved("auto")
    assert budget_defaults.resolved(3) == 3
