import math

import pytest
import yaml

from anatomy_ssl.errors import ConfigError
from anatomy_ssl.training.pretrain_config import (
    PretrainConfig,
    resolve_pretrain_config,
    save_pretrain_config,
)


def test_layers_override_the_file_which_overrides_defaults(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("method: moco\noptim:\n  lr: 0.01\n  max_steps: 7\n")
    config = resolve_pretrain_config({"optim.lr": 0.5}, {"data.batch_size": 4}, config_file=path)
    assert (config.method, config.optim.lr, config.optim.max_steps) == ("moco", 0.5, 7)
    assert (
        config.data.batch_size == 4
        and config.optim.warmup_steps == PretrainConfig().optim.warmup_steps
    )


def test_saved_config_resolves_to_the_same_config(tmp_path):
    config = resolve_pretrain_config({"method": "dino", "dino.local_crops": 2})
    save_pretrain_config(config, tmp_path / "config.yaml")
    again = resolve_pretrain_config(yaml.safe_load((tmp_path / "config.yaml").read_text()))
    assert again == config


@pytest.mark.parametrize(
    ("layer", "phrase"),
    [
        ({"method": "byol"}, "method must be one of simclr, moco, dino, mae, eden, eden_v1"),
        ({"optim.lrr": 1.0}, "did you mean 'lr'"),
        ({"data.batch_size": 1}, "batch_size >= 2"),
        ({"mae.loss": "l3"}, "mae.loss must be one of"),
        ({"decomposer.levels": []}, "at least one level"),
        ({"decomposer.levels": [0, -1]}, "all >= 0"),
        ({"decomposer.stage_fractions": [1.0]}, "one positive fraction per level"),
        ({"decomposer.jitter_fraction": 0.5}, "jitter_fraction"),
        ({"decomposer.mode": "octree"}, "decomposer.mode must be one of"),
    ],
)
def test_bad_keys_and_values_are_config_errors(layer, phrase):
    with pytest.raises(ConfigError, match=None) as error:
        resolve_pretrain_config(layer)
    assert phrase in str(error.value)


def test_missing_or_malformed_config_file(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        resolve_pretrain_config(config_file=tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("- a list\n")
    with pytest.raises(ConfigError, match="mapping"):
        resolve_pretrain_config(config_file=bad)


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
