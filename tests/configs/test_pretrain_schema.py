"""The pretraining schema on its own: built directly, without the YAML / override loader."""

import math

import pytest

from anatomy_ssl.configs import config_from_dict, config_to_dict, merge_config_dicts
from anatomy_ssl.configs.pretrain_schema import (
    METHOD_NAMES,
    DataConfig,
    MoCoConfig,
    OptimConfig,
    PretrainConfig,
)
from anatomy_ssl.errors import ConfigError


def test_building_a_config_resolves_auto_for_the_runs_length_and_batch():
    config = PretrainConfig(
        method="moco",
        data=DataConfig(batch_size=8),
        optim=OptimConfig(max_steps=250),
        moco=MoCoConfig(momentum=0.99),
    )
    assert config.moco.queue_size == 200 and config.moco.momentum == 0.99
    assert config.eden_v1.queue_size == config.drasclr.queue_size == 200
    assert config.drasclr.momentum == pytest.approx(1 - math.log(100) / 250)
    assert config.eden.momentum == pytest.approx(1 - 2 * math.log(100) / 250)
    assert config.dino.out_dim == 64


def test_the_sections_and_their_keys_are_those_of_config_yaml():
    saved = config_to_dict(PretrainConfig())
    assert list(saved) == [
        "method",
        "seed",
        "data",
        "encoder",
        "optim",
        "trainer",
        "simclr",
        "moco",
        "dino",
        "mae",
        "decomposer",
        "eden",
        "eden_v1",
        "sam",
        "alice",
        "drasclr",
    ]
    assert saved["data"]["augmentation"]["noise_std_max"] == "auto"  # resolved on the data
    assert list(saved["eden_v1"]) == [*saved["moco"], "prune_threshold"]
    assert config_from_dict(PretrainConfig, saved) == PretrainConfig()


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("drasclr.neighbours", 0, "neighbours must be >= 1"),
        ("drasclr.neighbour_weight", -1.0, "neighbour_weight must be >= 0"),
        ("drasclr.temperature", 0.0, "temperature must be > 0"),
        ("drasclr.negatives", "random", "negatives"),
    ],
)
def test_bad_drasclr_settings_are_config_errors(key, value, message):
    with pytest.raises(ConfigError, match=message):
        config_from_dict(PretrainConfig, merge_config_dicts({}, {"method": "drasclr", key: value}))


def test_dotted_overrides_build_a_config_and_bad_values_are_config_errors():
    overrides = merge_config_dicts({}, {"method": "eden", "decomposer.levels": [0, 2]})
    assert config_from_dict(PretrainConfig, overrides).decomposer.levels == (0, 2)
    assert PretrainConfig().method in METHOD_NAMES
    with pytest.raises(ConfigError, match="method must be one of"):
        config_from_dict(PretrainConfig, {"method": "byol"})
