import pytest

from anatomy_ssl.errors import ConfigError
from anatomy_ssl.preprocess import Shard


@pytest.mark.parametrize("count", [1, 2, 3, 7])
def test_shards_are_disjoint_and_cover_everything(count):
    items = [f"case_{i:03d}" for i in range(23)]
    parts = [Shard(i, count).select(items) for i in range(count)]
    flat = [x for part in parts for x in part]
    assert sorted(flat) == items
    assert len(flat) == len(set(flat))
    assert max(len(p) for p in parts) - min(len(p) for p in parts) <= 1


def test_parse_and_suffix():
    assert Shard.parse("2/4") == Shard(2, 4)
    assert Shard.parse("2/4").suffix == ".shard-2-of-4"
    assert Shard().suffix == ""


@pytest.mark.parametrize("text", ["4/4", "-1/2", "a/b", "3", "1/0"])
def test_bad_shards_are_rejected(text):
    with pytest.raises(ConfigError, match="shard"):
        Shard.parse(text)
