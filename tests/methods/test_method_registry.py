"""Every method is built from the registry; an encoder it cannot feed is a clear config error."""

import pytest

from anatomy_ssl.configs import config_from_dict
from anatomy_ssl.configs.pretrain_schema import PretrainConfig
from anatomy_ssl.errors import ConfigError
from anatomy_ssl.methods import create_method
from anatomy_ssl.models import create_encoder


def test_a_location_conditioned_encoder_is_refused_by_name():
    config = config_from_dict(PretrainConfig, {"method": "simclr"})
    with pytest.raises(ConfigError, match="'test_drasclr' is conditioned on each patch"):
        create_method(create_encoder("test_drasclr"), config)
    method = create_method(create_encoder("test_resunet"), config)
    assert type(method).__name__ == "SimCLRMethod"


def test_drasclr_takes_a_location_conditioned_encoder_and_a_plain_one():
    config = config_from_dict(PretrainConfig, {"method": "drasclr"})
    for name in ("test_drasclr", "test_resunet"):
        assert type(create_method(create_encoder(name), config)).__name__ == "DrasCLRMethod"


def test_a_parameter_free_control_is_refused_for_pretraining():
    config = config_from_dict(PretrainConfig, {"method": "moco"})
    with pytest.raises(ConfigError, match="'intensity_histogram' is a parameter-free control"):
        create_method(create_encoder("intensity_histogram"), config)
