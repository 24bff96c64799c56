"""The stale per-volume output files of a sharded batch job (one `<entry key>.<ext>` file per
volume, such as mined pairs or a subject's frame): redo them, or remove them."""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from pathlib import Path

logger = logging.getLogger(__name__)


def settle_stale_outputs(
    stale: Mapping[Path, str], entries: Collection[str], selected: Collection[str], *, redo: str
) -> int:
    """Leave each stale file whose volume is still in the cache to the shard that holds it (this
    shard when its key is in `selected`, which then redoes and counts it), and remove the files
    whose volume has left the cache.

    Args:
        stale: `{path: what changed}` of the stale files; a file is named by its entry key.
        entries: keys of the cache's entries now.
        selected: keys this shard processes.
        redo: what redoing a file is called in the log, e.g. "re-mining".

    Returns:
        How many stale files this shard counts: the ones it redoes and the ones it removed (a
        file a concurrent shard removed first is not counted).
    """
    counted = 0
    for path, reason in stale.items():
        if path.stem in entries:
            if path.stem in selected:
                counted += 1
                logger.info("%s %s: %s", redo, path.name, reason)
            continue
        logger.info("removing %s: %s", path.name, reason)
        try:
            path.unlink()
        except FileNotFoundError:
            continue  # a concurrent shard removed it
        counted += 1
    return counted
