"""`METHODS`: the config string -> pretraining method class."""

from __future__ import annotations

from anatomy_ssl.configs.pretrain_schema import METHOD_NAMES, PretrainConfig
from anatomy_ssl.errors import ConfigError
from anatomy_ssl.methods.alice_method import AliceMethod
from anatomy_ssl.methods.dino_method import DINOMethod
from anatomy_ssl.methods.drasclr_method import DrasCLRMethod
from anatomy_ssl.methods.eden_method import EdenMethod
from anatomy_ssl.methods.eden_v1_method import EdenV1Method
from anatomy_ssl.methods.masked_modeling_method import MaskedModelingMethod
from anatomy_ssl.methods.moco_method import MoCoMethod
from anatomy_ssl.methods.pretraining_method import PretrainingMethod
from anatomy_ssl.methods.sam_method import SAMMethod
from anatomy_ssl.methods.simclr_method import SimCLRMethod
from anatomy_ssl.models import Encoder

METHODS: dict[str, type[PretrainingMethod]] = {
    "simclr": SimCLRMethod,
    "moco": MoCoMethod,
    "dino": DINOMethod,
    "mae": MaskedModelingMethod,
    "eden": EdenMethod,
    "eden_v1": EdenV1Method,
    "sam": SAMMethod,
    "alice": AliceMethod,
    "drasclr": DrasCLRMethod,
}
assert tuple(METHODS) == METHOD_NAMES


def create_method(encoder: Encoder, config: PretrainConfig) -> PretrainingMethod:
    """The method `config.method` around `encoder`.

    Raises:
        ConfigError: the encoder needs each patch's location (DrasCLR's location-conditioned
            encoders) and the method is not `drasclr`, the only one that supplies it; or the
            encoder has nothing to train (a control such as `intensity_histogram`).
    """
    if not encoder.trainable:
        raise ConfigError(
            f"encoder {encoder.config.get('name')!r} is a parameter-free control with nothing "
            "to pretrain; evaluate it directly (anatomy-ssl evaluate / embed), or choose a "
            "trainable encoder such as resunet_small"
        )
    if encoder.requires_location and config.method != "drasclr":
        raise ConfigError(
            f"encoder {encoder.config.get('name')!r} is conditioned on each patch's anatomical "
            f"location, which method {config.method!r} does not supply; choose an encoder "
            "without location conditioning (e.g. resunet_small), or method drasclr"
        )
    return METHODS[config.method](encoder, config)
