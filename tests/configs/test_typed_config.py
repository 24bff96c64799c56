from dataclasses import dataclass, field
from typing import Any, Literal

import pytest

from anatomy_ssl.configs import config_from_dict, config_to_dict, merge_config_dicts
from anatomy_ssl.errors import ConfigError


@dataclass(frozen=True)
class Inner:
    rate: float = 0.1
    size: tuple[int, ...] = (1, 2)
    mode: Literal["a", "b"] = "a"


@dataclass(frozen=True)
class Outer:
    name: str = "x"
    count: int = 3
    limit: float | None = None
    devices: int | str = "auto"
    inner: Inner = field(default_factory=Inner)

    def __post_init__(self) -> None:
        if self.count < 0:
            raise ValueError("count must be >= 0")


def test_defaults_and_nested_values():
    config = config_from_dict(Outer, {"inner": {"rate": 1, "size": [4, 5, 6]}, "devices": 2})
    assert config.inner.rate == 1.0 and isinstance(config.inner.rate, float)
    assert config.inner.size == (4, 5, 6) and config.devices == 2 and config.name == "x"


def test_round_trip_through_plain_dicts():
    config = config_from_dict(Outer, {"limit": 2.5, "inner": {"mode": "b"}})
    assert config_from_dict(Outer, config_to_dict(config)) == config
    assert config_to_dict(config)["inner"]["size"] == [1, 2]


@pytest.mark.parametrize(
    ("values", "phrase"),
    [
        ({"cuont": 1}, "did you mean 'count'"),
        ({"inner": {"rat": 1}}, "'inner.rat' (did you mean 'rate'?)"),
        ({"count": "3"}, "count must be an integer"),
        ({"count": True}, "count must be an integer"),
        ({"inner": {"mode": "c"}}, "inner.mode must be one of 'a', 'b'"),
        ({"limit": "big"}, "limit"),
        ({"count": -1}, "count must be >= 0"),
        ({"inner": 3}, "inner must be a mapping"),
    ],
)
def test_bad_values_name_the_key(values, phrase):
    with pytest.raises(ConfigError) as error:
        config_from_dict(Outer, values, source="run.yaml")
    assert phrase in str(error.value) and str(error.value).startswith("run.yaml")


def test_merge_dotted_keys_deeply():
    merged = merge_config_dicts({"inner": {"rate": 1, "mode": "a"}}, {"inner.rate": 2, "count": 4})
    assert merged == {"inner": {"rate": 2, "mode": "a"}, "count": 4}
    assert merge_config_dicts(merged, {"inner": {"mode": "b"}})["inner"] == {"rate": 2, "mode": "b"}


@dataclass(frozen=True)
class Catalog:
    entries: dict[str, Inner] = field(default_factory=dict)
    free: dict[str, Any] = field(default_factory=dict)


def test_mapping_values_of_a_dataclass_type_are_built_and_checked():
    catalog = config_from_dict(Catalog, {"entries": {"a": {"rate": 2}}, "free": {"x": [1]}})
    assert catalog.entries == {"a": Inner(rate=2.0)} and catalog.free == {"x": [1]}
    with pytest.raises(ConfigError, match=r"entries\.a"):
        config_from_dict(Catalog, {"entries": {"a": {"rat": 2}}})


def test_merging_keeps_keys_that_are_not_text():
    merged = merge_config_dicts({"regions": {1: "a"}}, {"regions": {2: "b"}, "x.y": 1})
    assert merged == {"regions": {1: "a", 2: "b"}, "x": {"y": 1}}
