from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest

from anatomy_ssl.preprocess.cache_entry import write_entry


def _write_entries(root: Path, sizes: Sequence[tuple[int, ...]], channels: int) -> list[Path]:
    """Write one cache entry per size; voxel values are `1000 * entry + 100 * channel + noise`
    so a crop shows which entry and channel it came from."""
    rng = np.random.default_rng(7)
    folders = []
    for index, size in enumerate(sizes):
        offset = 1000 * index + 100 * np.arange(channels).reshape((channels,) + (1,) * len(size))
        image = (offset + rng.random((channels, *size))).astype(np.float32)
        meta = {
            "key": f"key{index}",
            "subject_id": f"s{index}",
            "split": "train",
            "affine": np.eye(len(size) + 1).tolist(),
            "spacing_mm": [1.0] * len(size),
            "size_vox": list(size),
            "background_value": -1.0,
        }
        folder = root / "entries" / f"key{index}"
        assert write_entry(folder, root / ".staging", image=image, label=None, meta=meta)
        folders.append(folder)
    return folders


@pytest.fixture
def make_entries(tmp_path: Path) -> Callable[..., list[Path]]:
    """Factory: `make_entries(sizes, channels=1)` -> entry folders of a tiny cache."""
    counter = iter(range(1000))

    def make(sizes: Sequence[tuple[int, ...]], channels: int = 1) -> list[Path]:
        return _write_entries(tmp_path / f"cache{next(counter)}", sizes, channels)

    return make


@pytest.fixture
def entries_3d(make_entries: Callable[..., list[Path]]) -> list[Path]:
    """Three 3D entries of different shapes, around 20^3 voxels."""
    return make_entries([(20, 20, 20), (24, 18, 20), (16, 22, 20)])


@pytest.fixture
def entries_2d(make_entries: Callable[..., list[Path]]) -> list[Path]:
    """Three single-channel 2D entries."""
    return make_entries([(40, 36), (30, 44), (36, 36)])
