"""Batch jobs over volumes: worker pools whose workers end with the process that started them,
outcomes in completion order (a dead worker's tasks become outcomes), rejects files and stale
per-volume outputs."""

from anatomy_ssl.parallel.completion_order_pool import WORKER_DIED, outcomes_in_completion_order
from anatomy_ssl.parallel.rejects_file import write_rejects
from anatomy_ssl.parallel.stale_outputs import settle_stale_outputs
from anatomy_ssl.parallel.worker_lifetime import die_with_parent

__all__ = [
    "WORKER_DIED",
    "die_with_parent",
    "outcomes_in_completion_order",
    "settle_stale_outputs",
    "write_rejects",
]
