"""Pretraining methods: one LightningModule per method (encoder + heads + losses).

A method takes an encoder and a `anatomy_ssl.configs.pretrain_schema.PretrainConfig`; it never
imports `training/`, which sits above it (it builds the method, the data and the Trainer).
"""

from anatomy_ssl.methods.alice_method import AliceMethod
from anatomy_ssl.methods.dino_method import DINOMethod
from anatomy_ssl.methods.eden_method import EdenMethod
from anatomy_ssl.methods.eden_v1_method import EdenV1Method
from anatomy_ssl.methods.masked_modeling_method import MaskedModelingMethod
from anatomy_ssl.methods.method_registry import METHODS, create_method
from anatomy_ssl.methods.moco_method import MoCoMethod
from anatomy_ssl.methods.pretraining_method import PretrainingMethod
from anatomy_ssl.methods.sam_method import SAMMethod
from anatomy_ssl.methods.simclr_method import SimCLRMethod

__all__ = [
    "METHODS",
    "AliceMethod",
    "DINOMethod",
    "EdenMethod",
    "EdenV1Method",
    "MaskedModelingMethod",
    "MoCoMethod",
    "PretrainingMethod",
    "SAMMethod",
    "SimCLRMethod",
    "create_method",
]
