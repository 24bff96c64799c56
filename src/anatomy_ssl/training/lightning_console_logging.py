"""Lightning's log lines printed once, by the application's logging setup."""

from __future__ import annotations

import logging

#: Loggers Lightning gives console handlers of their own when it is imported.
LIGHTNING_LOGGERS = ("lightning", "lightning.pytorch", "lightning.fabric")


def print_lightning_logs_once() -> None:
    """When the root logger has handlers (an application's `logging.basicConfig`, as the CLI's),
    hand Lightning's records to them alone.

    `import lightning` always adds a console handler to the `lightning` logger, which also
    propagates to the root logger, so each line ("GPU available: ...") was printed twice:
    once as `INFO: ...` and once in the application's format. Lightning's console handlers
    are removed and its loggers propagate, so each line is printed once, in the application's
    format and to its destinations. Without root handlers Lightning's own stay: they are then
    the only ones printing.
    """
    if not logging.getLogger().handlers:
        return
    for name in LIGHTNING_LOGGERS:
        logger = logging.getLogger(name)
        for handler in [h for h in logger.handlers if type(h) is logging.StreamHandler]:
            logger.removeHandler(handler)
        logger.propagate = True
