"""Eden v1 (Adam-v1) without a Trainer: part views, the pruner inside the MoCo loss."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional

from anatomy_ssl.configs import config_from_dict, merge_config_dicts
from anatomy_ssl.configs.pretrain_schema import PretrainConfig
from anatomy_ssl.methods import EdenV1Method
from anatomy_ssl.models import create_encoder


def _eden_v1(threshold: float | None) -> tuple[EdenV1Method, dict]:
    config = config_from_dict(
        PretrainConfig,
        merge_config_dicts(
            {},
            {
                "method": "eden_v1",
                "data.crop_size_vox": 16,
                "eden_v1.queue_size": 64,
                "eden_v1.prune_threshold": threshold,
                "decomposer.levels": [0, 2],
                "decomposer.min_stage_steps": 0,
                "optim.max_steps": 10,
            },
        ),
    )
    torch.manual_seed(0)
    method = EdenV1Method(create_encoder("test_resunet", spatial_dims=3, in_channels=1), config)
    logged: dict = {}
    method.log = lambda name, value, **kwargs: logged.update({name: value})  # type: ignore[method-assign]
    return method, logged


def test_both_views_come_from_one_part_on_the_decomposer_schedule():
    method, logged = _eden_v1(0.8)
    layout = method.part_view_layout()
    assert [(g.count, g.size_vox) for g in method.view_groups()] == [(2, (16, 16, 16))]
    assert layout.views == 2 and not layout.sub_parts and layout.local_crops == 0
    assert [layout.schedule.level_at(step) for step in (0, 4, 5, 9)] == [0, 0, 2, 2]
    views = [torch.rand(4, 1, 16, 16, 16) for _ in range(2)]
    method.compute_loss(views, step=7)
    assert logged["train/level"] == 2.0


def test_the_pruned_fraction_is_logged_and_pruning_everything_leaves_no_contrast():
    views = [torch.rand(4, 1, 16, 16, 16) for _ in range(2)]
    kept, kept_log = _eden_v1(None)
    pruned, pruned_log = _eden_v1(-0.99)
    queue = functional.normalize(torch.randn(64, 128), dim=1)
    for method in (kept, pruned):
        method.queue.enqueue(queue)
    plain_loss, _ = kept.compute_loss(views, step=0)
    pruned_loss, _ = pruned.compute_loss(views, step=0)
    assert "train/pruned_fraction" not in kept_log
    assert float(pruned_log["train/pruned_fraction"]) == 1.0
    assert pruned_loss.item() == pytest.approx(0.0, abs=1e-5)
    assert plain_loss.item() > 1.0  # 64 + 1 logits: a real contrast


def test_its_momentum_and_queue_come_from_the_eden_v1_section():
    method, _ = _eden_v1(0.8)
    assert method.options is method.config.eden_v1
    assert method.queue.features.shape == (64, 128)
    assert method.loss.prune_threshold == 0.8
