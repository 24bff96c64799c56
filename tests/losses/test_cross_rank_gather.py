from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from anatomy_ssl.losses import gather_with_grad, gather_without_grad, rank_and_world

WORLD = 2
ROWS = 3


def _local(rank: int) -> torch.Tensor:
    """`(ROWS, 2)` tensor that names its rank: row r of rank k is (10 k + r, -(10 k + r))."""
    base = torch.arange(ROWS, dtype=torch.float64) + 10 * rank
    return torch.stack([base, -base], dim=1)


def _weights(rank: int) -> torch.Tensor:
    """`(WORLD * ROWS, 2)` per-rank loss weights on the gathered tensor."""
    generator = torch.Generator().manual_seed(100 + rank)
    return torch.randn(WORLD * ROWS, 2, dtype=torch.float64, generator=generator)


def _worker(rank: int, store: str, out: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=WORLD)
    try:
        x = _local(rank).requires_grad_()
        gathered = gather_with_grad(x)  # (WORLD * ROWS, 2)
        (gathered * _weights(rank)).sum().backward()
        torch.save(
            {
                "rank_and_world": rank_and_world(),
                "gathered": gathered.detach(),
                "without_grad": gather_without_grad(x),
                "grad": x.grad,
            },
            Path(out) / f"rank{rank}.pt",
        )
    finally:
        dist.destroy_process_group()


@pytest.fixture(scope="module")
def results(tmp_path_factory, pytestconfig) -> list[dict]:
    folder = tmp_path_factory.mktemp("gather")
    # spawned children unpickle `_worker` by this module's name, so they need the root on sys.path
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(pytestconfig.rootpath))
        mp.spawn(_worker, args=(str(folder / "store"), str(folder)), nprocs=WORLD)
    return [torch.load(folder / f"rank{r}.pt") for r in range(WORLD)]


def test_outside_distributed_it_is_the_identity():
    x = torch.randn(3, 2, requires_grad=True)
    assert rank_and_world() == (0, 1)
    assert gather_with_grad(x) is x
    detached = gather_without_grad(x)
    assert not detached.requires_grad
    torch.testing.assert_close(detached, x.detach())


def test_gathers_in_rank_order(results):
    expected = torch.cat([_local(r) for r in range(WORLD)])
    for rank, result in enumerate(results):
        assert result["rank_and_world"] == (rank, WORLD)
        torch.testing.assert_close(result["gathered"], expected)
        torch.testing.assert_close(result["without_grad"], expected)
        assert not result["without_grad"].requires_grad


def test_backward_sums_every_ranks_gradient_for_its_own_rows(results):
    # d/dx_k of sum_r <w_r, gather(x)> is sum_r of the rows of w_r that hold x_k.
    total = sum(_weights(r) for r in range(WORLD))
    for rank, result in enumerate(results):
        torch.testing.assert_close(result["grad"], total[rank * ROWS : (rank + 1) * ROWS])
