"""`key=value` command-line overrides, parsed as YAML scalars (`1.5`, `true`, `[1, 2, 3]`)."""

from __future__ import annotations

from typing import Any

import yaml

from anatomy_ssl.errors import ConfigError


def parse_overrides(pairs: list[str]) -> dict[str, Any]:
    """Turn `["a=1", "b=[1, 2]"]` into `{"a": 1, "b": [1, 2]}`; malformed pairs are errors."""
    values: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"override {pair!r} must look like key=value")
        try:
            values[key.strip()] = yaml.safe_load(text)
        except yaml.YAMLError as error:
            raise ConfigError(f"override {pair!r}: cannot parse value: {error}") from error
    return values
