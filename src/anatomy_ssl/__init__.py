"""anatomy-ssl: anatomy-aware self-supervised pretraining for medical images."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Any

try:
    __version__ = version("anatomy-ssl")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__", "load_encoder"]


def __getattr__(name: str) -> Any:
    # imported on first use: `import anatomy_ssl` (and the CLI's start-up) stays free of torch
    if name == "load_encoder":
        from anatomy_ssl.export import load_encoder

        return load_encoder
    raise AttributeError(f"module 'anatomy_ssl' has no attribute {name!r}")
