"""Typed configuration: nested frozen dataclasses built from plain dicts (YAML, `key=value`).

One schema holds every default; dicts merge on top of it; unknown keys are errors that suggest the
closest valid key; values are checked against the field's annotated type.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar, Union

from anatomy_ssl.errors import ConfigError

T = TypeVar("T")


def config_from_dict(cls: type[T], values: Mapping[str, Any], *, source: str = "config") -> T:
    """Build dataclass `cls` from a nested dict; missing keys keep their defaults.

    Raises:
        ConfigError: unknown keys (with "did you mean"), values of the wrong type, or values the
            dataclass's own `__post_init__` rejects; the message names `source` and the key path.
    """
    return _build(cls, values, source, prefix="")


def config_to_dict(config: Any) -> dict[str, Any]:
    """A dataclass config as plain nested dicts, lists and scalars (YAML / JSON ready)."""
    return _plain(dataclasses.asdict(config))


def merge_config_dicts(base: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """Deep-merge `update` over `base`. A dotted key (`"optim.lr"`) addresses a nested field; a
    key that is not text (a label value, `{1: column}`) is taken as it is."""
    merged: dict[str, Any] = {key: value for key, value in base.items()}
    for key, value in update.items():
        head, dot, rest = key.partition(".") if isinstance(key, str) else (key, "", "")
        if dot:
            value = {rest: value}
        current = merged.get(head)
        if isinstance(value, Mapping) and isinstance(current, Mapping):
            merged[head] = merge_config_dicts(current, value)
        elif isinstance(value, Mapping):
            merged[head] = merge_config_dicts({}, value)
        else:
            merged[head] = value
    return merged


def _build(cls: type[T], values: Mapping[str, Any], source: str, prefix: str) -> T:
    if not isinstance(values, Mapping):
        raise ConfigError(f"{source}: {prefix.rstrip('.') or 'config'} must be a mapping")
    fields = {field.name: field for field in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(values) - set(fields))
    if unknown:
        hints = []
        for key in unknown:
            close = difflib.get_close_matches(key, sorted(fields), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            hints.append(repr(f"{prefix}{key}") + hint)
        raise ConfigError(
            f"{source}: unknown key(s) {', '.join(hints)}; valid keys under "
            f"{prefix.rstrip('.') or 'the top level'}: {', '.join(sorted(fields))}"
        )
    hints_by_name = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for name, value in values.items():
        kwargs[name] = _coerce(hints_by_name[name], value, source, f"{prefix}{name}")
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as error:
        where = f"{source}: {prefix.rstrip('.')}" if prefix else source
        raise ConfigError(f"{where}: {error}") from None


def _coerce(annotation: Any, value: Any, source: str, path: str) -> Any:
    """Check `value` against `annotation`, converting lists to tuples and ints to floats."""
    if dataclasses.is_dataclass(annotation) and isinstance(annotation, type):
        return _build(annotation, value, source, prefix=f"{path}.")
    origin = typing.get_origin(annotation)
    if origin in (Union, types.UnionType):
        for option in typing.get_args(annotation):
            try:
                return _coerce(option, value, source, path)
            except ConfigError:
                continue
        raise ConfigError(f"{source}: {path}: {value!r} does not fit {_describe(annotation)}")
    if origin is typing.Literal:
        if value not in typing.get_args(annotation):
            choices = ", ".join(repr(choice) for choice in typing.get_args(annotation))
            raise ConfigError(f"{source}: {path} must be one of {choices}, got {value!r}")
        return value
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{source}: {path} must be a list, got {value!r}")
        item_types = typing.get_args(annotation)
        if len(item_types) == 2 and item_types[1] is Ellipsis:
            return tuple(_coerce(item_types[0], item, source, path) for item in value)
        if len(item_types) != len(value):
            raise ConfigError(f"{source}: {path} needs {len(item_types)} values, got {value!r}")
        return tuple(
            _coerce(kind, item, source, path) for kind, item in zip(item_types, value, strict=True)
        )
    if origin is dict or annotation is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{source}: {path} must be a mapping, got {value!r}")
        value_type = typing.get_args(annotation)[1] if typing.get_args(annotation) else Any
        return {
            key: _coerce(value_type, item, source, f"{path}.{key}") for key, item in value.items()
        }
    if annotation is type(None):
        if value is not None:
            raise ConfigError(f"{source}: {path} must be null, got {value!r}")
        return None
    if annotation is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{source}: {path} must be true or false, got {value!r}")
        return value
    if annotation is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{source}: {path} must be an integer, got {value!r}")
        return value
    if annotation is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{source}: {path} must be a number, got {value!r}")
        return float(value)
    if annotation is str:
        if not isinstance(value, str):
            raise ConfigError(f"{source}: {path} must be a string, got {value!r}")
        return value
    if annotation is Any:
        return value
    raise TypeError(f"unsupported config annotation {annotation!r} at {path}")


def _describe(annotation: Any) -> str:
    return str(annotation).replace("typing.", "")


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value
