"""Exception types that name the offending file (or config key) and the problem.

Every error a user can cause with bad input is one of these, so batch jobs can catch them, record
the reject and go on, while programming errors still surface as ordinary exceptions.
"""

from __future__ import annotations

from pathlib import Path


class AnatomySSLError(Exception):
    """Base class of all errors anatomy-ssl raises on purpose."""


class InputError(AnatomySSLError, ValueError):
    """A file (or folder) on disk cannot be used; the message names it and says why.

    Attributes:
        path: the offending file or folder.
        problem: what is wrong with it, in words a user can act on.
    """

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class ManifestError(AnatomySSLError, ValueError):
    """A manifest is inconsistent; `problems` lists every problem found, one per line."""

    def __init__(self, source: str | Path, problems: list[str]) -> None:
        self.source = str(source)
        self.problems = list(problems)
        listing = "\n  ".join(self.problems)
        super().__init__(f"{self.source}: {len(self.problems)} problem(s):\n  {listing}")


class ConfigError(AnatomySSLError, ValueError):
    """A configuration value or key is invalid (unknown keys, wrong types, bad ranges)."""
