"""Typed configuration helpers shared by every configurable job, and the pretraining schema.

`pretrain_schema` (the `PretrainConfig` every pretraining method takes) and `budget_defaults`
(its "auto" rules) are imported by module path, so importing this package stays light.
"""

from anatomy_ssl.configs.typed_config import config_from_dict, config_to_dict, merge_config_dicts

__all__ = ["config_from_dict", "config_to_dict", "merge_config_dicts"]
