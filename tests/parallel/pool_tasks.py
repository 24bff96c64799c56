"""Module-level task functions for the pool tests (spawned workers import them by name)."""

import os


def square(value: int) -> int:
    return value * value


def square_or_die(value: int) -> int:
    if value == 3:
        os._exit(9)  # the worker dies as if killed
    return value * value
