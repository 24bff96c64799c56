"""Two gloo CPU processes must reproduce, exactly, what one process computes on the global batch:
DrasCLR's tagged queue (keys, location and subject tags, pointer) and its location-matched
InfoNCE against that queue."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from anatomy_ssl.losses import LocationMatchedInfoNCE, TaggedFeatureQueue

WORLD = 2
LOCAL = 3  # samples per rank
GLOBAL = WORLD * LOCAL
SIZES = (8, 4)  # 2 steps of 6 keys: the first wraps around, the second gets more keys than slots


def _global_batch() -> dict[str, torch.Tensor]:
    """Every input of the run, for the whole global batch (ranks take column slices)."""
    generator = torch.Generator().manual_seed(0)
    return {
        "keys": torch.randn(2, GLOBAL, 4, dtype=torch.float64, generator=generator),
        "locations": torch.randint(0, 2, (2, GLOBAL), generator=generator),
        "subjects": torch.arange(2 * GLOBAL).reshape(2, GLOBAL) % 5,
        "query": torch.randn(GLOBAL, 4, dtype=torch.float64, generator=generator),
    }


def _enqueue_all(queue: TaggedFeatureQueue, batch: dict, rows: slice) -> TaggedFeatureQueue:
    for keys, locations, subjects in zip(
        batch["keys"], batch["locations"], batch["subjects"], strict=True
    ):
        queue.enqueue(keys[rows], locations[rows], subjects[rows])
    return queue


def _worker(rank: int, store: str, out: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=WORLD)
    try:
        batch = _global_batch()
        rows = slice(rank * LOCAL, (rank + 1) * LOCAL)
        queues = {
            size: _enqueue_all(TaggedFeatureQueue(size, 4).double(), batch, rows) for size in SIZES
        }
        loss = LocationMatchedInfoNCE()(
            batch["query"][rows],
            batch["keys"][1][rows],
            batch["locations"][1][rows],
            batch["subjects"][1][rows],
            queues[SIZES[0]],
        )
        torch.save(
            {"queues": {size: q.state_dict() for size, q in queues.items()}, "loss": loss},
            Path(out) / f"rank{rank}.pt",
        )
    finally:
        dist.destroy_process_group()


@pytest.fixture(scope="module")
def results(tmp_path_factory, pytestconfig) -> list[dict]:
    folder = tmp_path_factory.mktemp("ddp-tagged")
    # spawned children unpickle `_worker` by this module's name, so they need the root on sys.path
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(pytestconfig.rootpath))
        mp.spawn(_worker, args=(str(folder / "store"), str(folder)), nprocs=WORLD)
    return [torch.load(folder / f"rank{r}.pt") for r in range(WORLD)]


@pytest.mark.parametrize("size", SIZES)
def test_every_rank_holds_the_global_keys_and_tags_in_rank_order(results, size):
    queue = _enqueue_all(TaggedFeatureQueue(size, 4).double(), _global_batch(), slice(None))
    assert int(queue.pointer) == (2 * GLOBAL) % size
    for result in results:
        state = result["queues"][size]
        torch.testing.assert_close(state["features"], queue.features)
        assert torch.equal(state["locations"], queue.locations)
        assert torch.equal(state["subjects"], queue.subjects)
        assert int(state["pointer"]) == int(queue.pointer)


def test_mean_of_rank_losses_is_the_loss_of_the_global_batch(results):
    batch = _global_batch()
    queue = _enqueue_all(TaggedFeatureQueue(SIZES[0], 4).double(), batch, slice(None))
    loss = LocationMatchedInfoNCE()(
        batch["query"], batch["keys"][1], batch["locations"][1], batch["subjects"][1], queue
    )
    assert loss > 0  # some queries do meet negatives
    torch.testing.assert_close(torch.stack([r["loss"] for r in results]).mean(), loss)
