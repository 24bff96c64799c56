"""Worker processes: pools whose workers end with the process that started them."""

from anatomy_ssl.parallel.worker_lifetime import die_with_parent

__all__ = ["die_with_parent"]
