"""Hyper-parameters that depend on the run's length, chosen for it when a config says "auto".

The papers' values assume 100k+ steps at batch 256+. At a laptop's budget (hundreds of steps,
batch 8) they leave the method untrained: a teacher at momentum 0.996 still holds ~60 % of its
random init after 250 steps; a 4096-key queue filled 8 keys a step is half random vectors at step
250; a 4096-way DINO head sees each prototype a handful of times. Each rule below picks the
value at which that quantity is sane for the run at hand, and never goes past the paper's value,
so long runs get the paper's settings (the `gpu` suite also sets them explicitly).

Rules (T = `optim.max_steps`, B = `data.batch_size`, the per-rank batch):
- EMA teacher on a cosine schedule from m0 to 1 (DINO, Eden v2): the random init's weight in the
  teacher after T steps is prod_t m(t) ~ exp(-(1 - m0) * T / 2); m0 = 1 - 2 ln(100) / T keeps it
  at 1 %. Clipped to [0.9, 0.996].
- EMA key encoder at a constant momentum m (MoCo, Eden v1): m^T = 1 % at m = 1 - ln(100) / T.
  Clipped to [0.9, 0.999].
- Queue of negatives (MoCo, Eden v1): full of real keys after a tenth of the run,
  K = B * max(1, T // 10). Clipped to [B, 65536].
- Prototype head width (DINO, Eden v2): every prototype should see at least 16 samples over the
  run, K = the largest power of 2 <= B * T / 16. Clipped to [64, 65536].
"""

from __future__ import annotations

import math
from typing import Literal, TypeVar

AUTO: Literal["auto"] = "auto"

T = TypeVar("T", int, float)

PAPER_COSINE_MOMENTUM = 0.996  # DINO (Caron et al. 2021), Adam-v2 (Hosseinzadeh Taher 2024)
PAPER_CONSTANT_MOMENTUM = 0.999  # MoCo v2 (Chen et al. 2020), Adam-v1
PAPER_QUEUE_SIZE = 65536  # MoCo v2, Adam-v1
PAPER_HEAD_WIDTH = 65536  # DINO
MIN_MOMENTUM = 0.9
MIN_HEAD_WIDTH = 64
INIT_SHARE = 0.01  # the random init's weight left in the teacher at the end of the run
QUEUE_FILL_FRACTION = 0.1  # of the run, until the queue holds only real keys
SAMPLES_PER_PROTOTYPE = 16


def cosine_teacher_momentum(total_steps: int) -> float:
    """Base momentum m0 of a cosine-scheduled EMA teacher for a run of `total_steps` steps."""
    _check_steps(total_steps)
    wanted = 1.0 - 2.0 * math.log(1.0 / INIT_SHARE) / total_steps
    return min(max(wanted, MIN_MOMENTUM), PAPER_COSINE_MOMENTUM)


def constant_teacher_momentum(total_steps: int) -> float:
    """Momentum of a constant-momentum key encoder for a run of `total_steps` steps."""
    _check_steps(total_steps)
    wanted = 1.0 - math.log(1.0 / INIT_SHARE) / total_steps
    return min(max(wanted, MIN_MOMENTUM), PAPER_CONSTANT_MOMENTUM)


def queue_size(batch_size: int, total_steps: int) -> int:
    """Keys in the queue: filled with real keys after `QUEUE_FILL_FRACTION` of the run."""
    _check_steps(total_steps)
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    wanted = batch_size * max(1, int(total_steps * QUEUE_FILL_FRACTION))
    return min(max(wanted, batch_size), PAPER_QUEUE_SIZE)


def head_width(batch_size: int, total_steps: int) -> int:
    """Prototypes of a DINO-style head: each sees >= `SAMPLES_PER_PROTOTYPE` samples."""
    _check_steps(total_steps)
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    samples = batch_size * total_steps / SAMPLES_PER_PROTOTYPE
    wanted = 2 ** math.floor(math.log2(samples)) if samples >= 1 else 1
    return min(max(wanted, MIN_HEAD_WIDTH), PAPER_HEAD_WIDTH)


def resolved(value: T | Literal["auto"]) -> T:
    """A config value that `PretrainConfig` has already resolved (never "auto" in a method)."""
    if value == AUTO:
        raise ValueError(
            "an 'auto' setting reached a method unresolved; build configs with "
            "resolve_pretrain_config or PretrainConfig"
        )
    return value


def _check_steps(total_steps: int) -> None:
    if total_steps < 1:
        raise ValueError(f"total_steps must be positive, got {total_steps}")
