"""Strict state loading: every key present, none extra, every shape equal, or a clear error."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from anatomy_ssl.models.encoder import Encoder

LISTED_KEYS = 8  # keys named per kind of mismatch; the rest are counted


def load_encoder_state(encoder: Encoder, state: Mapping[str, torch.Tensor]) -> None:
    """Load exported weights into `encoder` (from `create_encoder(**card["encoder"])`).

    Raises:
        ValueError: `state` lacks keys of the encoder, has keys it does not, or holds a tensor
            of another shape; the message names them.
    """
    load_state_strictly(encoder, state)


def load_state_strictly(module: nn.Module, state: Mapping[str, torch.Tensor]) -> list[str]:
    """Copy `state` into `module` after checking that it matches exactly.

    Args:
        module: the receiving module.
        state: tensors by `module.state_dict()` key.

    Returns:
        The loaded keys, in `module.state_dict()` order.

    Raises:
        ValueError: missing, unexpected or shape-mismatched keys, named in the message.
    """
    expected = module.state_dict()
    missing = [key for key in expected if key not in state]
    unexpected = [key for key in state if key not in expected]
    mismatched = [
        f"{key} (expected {tuple(value.shape)}, got {tuple(state[key].shape)})"
        for key, value in expected.items()
        if key in state and state[key].shape != value.shape
    ]
    problems = [
        f"{kind} keys: {_listing(keys)}"
        for kind, keys in (
            ("missing", missing),
            ("unexpected", unexpected),
            ("shape-mismatched", mismatched),
        )
        if keys
    ]
    if problems:
        raise ValueError(f"weights do not match {type(module).__name__}: " + "; ".join(problems))
    module.load_state_dict(dict(state), strict=True)
    return list(expected)


def _listing(keys: list[str]) -> str:
    shown = ", ".join(keys[:LISTED_KEYS])
    rest = len(keys) - LISTED_KEYS
    return f"{shown} and {rest} more" if rest > 0 else shown
