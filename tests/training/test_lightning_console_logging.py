import io
import logging

import pytest

from anatomy_ssl.training.lightning_console_logging import (
    LIGHTNING_LOGGERS,
    print_lightning_logs_once,
)


@pytest.fixture
def lightning_console(monkeypatch):
    """`logger -> its console handler`: Lightning's loggers as `import lightning` leaves them
    (a console handler each; `lightning` propagates, its subpackages not); restored after."""
    console = {}
    for name in LIGHTNING_LOGGERS:
        logger = logging.getLogger(name)
        console[logger] = logging.StreamHandler(io.StringIO())
        monkeypatch.setattr(logger, "handlers", [console[logger]])
        monkeypatch.setattr(logger, "propagate", name == "lightning")
    return console


def test_with_an_application_handler_lightning_logs_only_through_it(lightning_console, monkeypatch):
    monkeypatch.setattr(logging.getLogger(), "handlers", [logging.NullHandler()])
    print_lightning_logs_once()
    for logger, handler in lightning_console.items():
        assert handler not in logger.handlers and logger.propagate


def test_without_one_lightnings_own_console_handlers_stay(lightning_console, monkeypatch):
    monkeypatch.setattr(logging.getLogger(), "handlers", [])
    print_lightning_logs_once()
    for logger, handler in lightning_console.items():
        assert handler in logger.handlers
