"""Assembling a run's `PretrainConfig`: defaults <- YAML file <- `key=value` layers, and saving it.

The schema (every default, and the "auto" values it resolves) is
`anatomy_ssl.configs.pretrain_schema`. YAML files and `key=value` overrides (dotted keys, e.g.
`optim.lr=3e-4`) merge on top of its defaults; unknown keys are errors; the resolved config is
saved with each run as `config.yaml`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from anatomy_ssl.configs import config_from_dict, merge_config_dicts
from anatomy_ssl.configs.pretrain_schema import METHOD_NAMES, PretrainConfig
from anatomy_ssl.errors import ConfigError

__all__ = ["METHOD_NAMES", "PretrainConfig", "resolve_pretrain_config", "save_pretrain_config"]


def resolve_pretrain_config(
    *layers: dict[str, Any], config_file: str | Path | None = None
) -> PretrainConfig:
    """Defaults <- YAML file <- each layer in order (e.g. CLI flags, then `key=value` overrides)."""
    merged: dict[str, Any] = {}
    if config_file is not None:
        path = Path(config_file)
        if not path.is_file():
            raise ConfigError(f"{path}: config file not found")
        try:
            loaded = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as error:
            raise ConfigError(f"{path}: not valid YAML: {error}") from error
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path}: the top level must be a mapping of keys")
        merged = merge_config_dicts(merged, loaded)
    for layer in layers:
        merged = merge_config_dicts(merged, layer)
    source = str(config_file) if config_file is not None else "pretrain config"
    return config_from_dict(PretrainConfig, merged, source=source)


def save_pretrain_config(config: PretrainConfig, path: Path) -> None:
    """Write the resolved config as YAML, atomically."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(yaml.safe_dump(config.to_dict(), sort_keys=False))
    temporary.replace(path)
