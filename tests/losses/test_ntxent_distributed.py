"""Two gloo CPU processes must reproduce, exactly, what one process computes on the global batch:
NT-Xent loss and DDP gradients, the feature queue's ring order, the DINO centre and the
centre of iBOT's token distillation (Alice's patch and CAFA terms)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from anatomy_ssl.losses import DINOLoss, FeatureQueue, MaskedPatchDistillationLoss, NTXentLoss

WORLD = 2
LOCAL = 2  # samples per rank
GLOBAL = WORLD * LOCAL
TEMPERATURE = 0.5


def _global_batch() -> dict[str, torch.Tensor]:
    """Every input of the run, for the whole global batch (ranks take row slices)."""
    generator = torch.Generator().manual_seed(0)

    def draw(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, dtype=torch.float64, generator=generator)

    return {
        "view1": draw(GLOBAL, 5),
        "view2": draw(GLOBAL, 5),
        "keys": draw(2, GLOBAL, 4),  # two enqueue steps
        "student": draw(3, GLOBAL, 6),  # 2 global + 1 local view
        "teacher": draw(2, GLOBAL, 6),
        "student_tokens": draw(GLOBAL, 3, 6),  # (B, N, K)
        "teacher_tokens": draw(GLOBAL, 3, 6),
        "masked": torch.rand(GLOBAL, 3, generator=generator) < 0.5,
    }


def _model() -> nn.Module:
    torch.manual_seed(1)
    return nn.Linear(5, 4).double()


def _queue() -> FeatureQueue:
    torch.manual_seed(2)
    return FeatureQueue(size=6, dim=4).double()  # 2 steps of 4 keys: wraps around


def _worker(rank: int, store: str, out: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=WORLD)
    try:
        batch = _global_batch()
        rows = slice(rank * LOCAL, (rank + 1) * LOCAL)
        model = DistributedDataParallel(_model())
        z = model(torch.cat([batch["view1"][rows], batch["view2"][rows]]))  # (2 LOCAL, 4)
        z1, z2 = z.chunk(2)
        loss = NTXentLoss(temperature=TEMPERATURE)(z1, z2)
        loss.backward()  # DDP averages the gradients over ranks

        queue = _queue()
        for keys in batch["keys"]:
            queue.enqueue(keys[rows])

        dino = DINOLoss(6).double()
        dino_loss = dino([v[rows] for v in batch["student"]], [v[rows] for v in batch["teacher"]])
        tokens = MaskedPatchDistillationLoss(6).double()
        token_loss = tokens(
            batch["student_tokens"][rows], batch["teacher_tokens"][rows], batch["masked"][rows]
        )
        torch.save(
            {
                "token_loss": token_loss,
                "token_center": tokens.center.center,
                "loss": loss.detach(),
                "grads": {k: p.grad for k, p in model.module.named_parameters()},
                "queue": queue.state_dict(),
                "dino_loss": dino_loss,
                "center": dino.center,
            },
            Path(out) / f"rank{rank}.pt",
        )
    finally:
        dist.destroy_process_group()


@pytest.fixture(scope="module")
def results(tmp_path_factory, pytestconfig) -> list[dict]:
    folder = tmp_path_factory.mktemp("ddp")
    # spawned children unpickle `_worker` by this module's name, so they need the root on sys.path
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(pytestconfig.rootpath))
        mp.spawn(_worker, args=(str(folder / "store"), str(folder)), nprocs=WORLD)
    return [torch.load(folder / f"rank{r}.pt") for r in range(WORLD)]


def _per_anchor_ntxent(z1: torch.Tensor, z2: torch.Tensor) -> list[torch.Tensor]:
    """SimCLR eq. 1 for each of the 2N anchors (view 1 of every sample, then view 2)."""
    z = [v / v.norm() for v in [*z1, *z2]]
    n = z1.shape[0]
    losses = []
    for i in range(2 * n):
        j = i + n if i < n else i - n
        denominator = sum(torch.exp(z[i] @ z[k] / TEMPERATURE) for k in range(2 * n) if k != i)
        losses.append(-torch.log(torch.exp(z[i] @ z[j] / TEMPERATURE) / denominator))
    return losses


def test_ntxent_ddp_matches_one_process_on_the_global_batch(results):
    batch = _global_batch()
    model = _model()
    z1, z2 = model(torch.cat([batch["view1"], batch["view2"]])).chunk(2)  # (GLOBAL, 4) each
    loss = NTXentLoss(temperature=TEMPERATURE)(z1, z2)  # mean over all 2 * GLOBAL anchors
    loss.backward()

    torch.testing.assert_close(torch.stack([r["loss"] for r in results]).mean(), loss.detach())
    for result in results:  # DDP leaves the same averaged gradient on every rank
        for name, parameter in model.named_parameters():
            torch.testing.assert_close(result["grads"][name], parameter.grad)


def test_each_rank_averages_its_own_anchors_against_global_negatives(results):
    batch = _global_batch()
    with torch.no_grad():
        z1, z2 = _model()(torch.cat([batch["view1"], batch["view2"]])).chunk(2)
    anchors = _per_anchor_ntxent(z1, z2)
    for rank, result in enumerate(results):
        own = [*range(rank * LOCAL, (rank + 1) * LOCAL)]
        own += [GLOBAL + i for i in own]
        torch.testing.assert_close(result["loss"], torch.stack([anchors[i] for i in own]).mean())


def test_queue_holds_the_global_keys_in_rank_order(results):
    queue = _queue()
    for keys in _global_batch()["keys"]:
        queue.enqueue(keys)
    for result in results:
        torch.testing.assert_close(result["queue"]["features"], queue.features)
        assert int(result["queue"]["pointer"]) == int(queue.pointer) == (2 * GLOBAL) % 6


def test_dino_center_and_loss_match_the_global_batch(results):
    batch = _global_batch()
    dino = DINOLoss(6).double()
    loss = dino(list(batch["student"]), list(batch["teacher"]))
    torch.testing.assert_close(torch.stack([r["dino_loss"] for r in results]).mean(), loss)
    for result in results:
        torch.testing.assert_close(result["center"], dino.center)


def test_token_distillation_center_and_loss_match_the_global_batch(results):
    batch = _global_batch()
    tokens = MaskedPatchDistillationLoss(6).double()
    loss = tokens(batch["student_tokens"], batch["teacher_tokens"], batch["masked"])
    torch.testing.assert_close(torch.stack([r["token_loss"] for r in results]).mean(), loss)
    for result in results:
        torch.testing.assert_close(result["token_center"], tokens.center.center)
