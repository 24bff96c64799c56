"""Peak-memory bookkeeping shared by the benchmarks (Linux /proc; harmless elsewhere)."""

from __future__ import annotations

from pathlib import Path


def reset_peak_rss() -> bool:
    """Restart VmHWM from the current resident set (Linux >= 4.0: `5 > /proc/self/clear_refs`);
    False where not allowed."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True
