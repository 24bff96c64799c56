"""`--shard i/N`: a disjoint slice of a job, so job arrays can split preprocessing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from anatomy_ssl.errors import ConfigError

T = TypeVar("T")


@dataclass(frozen=True)
class Shard:
    """Shard `index` (0-based) of `count`; item k belongs to shard k mod count."""

    index: int = 0
    count: int = 1

    def __post_init__(self) -> None:
        if self.count < 1 or not 0 <= self.index < self.count:
            raise ConfigError(
                f"shard must be i/N with N >= 1 and 0 <= i < N, got {self.index}/{self.count}"
            )

    @classmethod
    def parse(cls, text: str) -> Shard:
        """Parse "i/N" (0-based i, e.g. a SLURM_ARRAY_TASK_ID starting at 0)."""
        try:
            index, count = (int(part) for part in text.split("/"))
        except ValueError:
            raise ConfigError(f"shard must look like i/N (e.g. 0/4), got {text!r}") from None
        return cls(index, count)

    @property
    def suffix(self) -> str:
        """File-name suffix for per-shard outputs: "" for the whole job, ".shard-2-of-4" else."""
        return "" if self.count == 1 else f".shard-{self.index}-of-{self.count}"

    def select(self, items: Sequence[T]) -> list[T]:
        """This shard's items; the union over all shards is `items`, and shards are disjoint."""
        return list(items[self.index :: self.count])
