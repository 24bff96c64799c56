"""Typed configuration helpers shared by every configurable job."""

from anatomy_ssl.configs.typed_config import config_from_dict, config_to_dict, merge_config_dicts

__all__ = ["config_from_dict", "config_to_dict", "merge_config_dicts"]
