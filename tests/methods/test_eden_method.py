"""Eden (Adam-v2) without a Trainer: its views, its three loss terms and where gradients go."""

from __future__ import annotations

import pytest
import torch

from anatomy_ssl.configs import config_from_dict, merge_config_dicts
from anatomy_ssl.configs.pretrain_schema import PretrainConfig
from anatomy_ssl.errors import ConfigError
from anatomy_ssl.methods import EdenMethod
from anatomy_ssl.models import create_encoder


def _eden(spatial_dims: int, crop: int = 16, **overrides) -> tuple[EdenMethod, dict]:
    config = config_from_dict(
        PretrainConfig,
        merge_config_dicts(
            {},
            {
                "method": "eden",
                "data.crop_size_vox": crop,
                "eden.out_dim": 32,
                "eden.composer_hidden_dim": 16,
                "decomposer.min_stage_steps": 0,
                **overrides,
            },
        ),
    )
    torch.manual_seed(0)
    encoder = create_encoder("test_resunet", spatial_dims=spatial_dims, in_channels=1)
    method = EdenMethod(encoder, config)
    logged: dict = {}
    method.log_dict = lambda values, **kwargs: logged.update(values)  # type: ignore[method-assign]
    return method, logged


def _views(method: EdenMethod, batch: int = 3) -> list[torch.Tensor]:
    return [
        torch.rand(batch, 1, *group.size_vox)
        for group in method.view_groups()
        for _ in range(group.count)
    ]


@pytest.mark.parametrize("spatial_dims, parts", [(3, 8), (2, 4)])
def test_views_are_two_wholes_the_local_crops_and_the_parts_at_half_size(spatial_dims, parts):
    method, _ = _eden(spatial_dims, **{"eden.local_crops": 2})
    groups = method.view_groups()
    assert [(g.count, g.size_vox) for g in groups] == [
        (2, (16,) * spatial_dims),
        (2, (8,) * spatial_dims),
        (parts, (8,) * spatial_dims),
    ]
    assert method.part_view_layout().sub_parts


@pytest.mark.parametrize("spatial_dims", [3, 2])
def test_the_loss_is_the_weighted_sum_of_its_three_logged_terms(spatial_dims):
    method, logged = _eden(
        spatial_dims,
        **{"eden.composability_weight": 2.0, "eden.decomposability_weight": 0.5},
    )
    loss, embeddings = method.compute_loss(_views(method), step=0)
    terms = [
        logged[f"train/{name}"] for name in ("localizability", "composability", "decomposability")
    ]
    assert all(torch.isfinite(term) and term > 0 for term in terms)
    torch.testing.assert_close(loss.detach(), terms[0] + 2.0 * terms[1] + 0.5 * terms[2])
    assert embeddings.shape == (3, method.encoder.embed_dim)
    assert logged["train/level"] == 0.0


def test_gradients_reach_the_student_heads_and_never_the_teacher():
    method, _ = _eden(3)
    loss, _ = method.compute_loss(_views(method), step=0)
    loss.backward()
    for module in (method.encoder, method.head, method.composer, method.decomposer):
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in module.parameters())
    teacher = [*method.teacher_encoder.parameters(), *method.teacher_head.parameters()]
    assert all(p.grad is None and not p.requires_grad for p in teacher)


def test_composability_alone_trains_the_composer_not_the_decomposer():
    method, _ = _eden(3, **{"eden.localizability_weight": 0.0, "eden.decomposability_weight": 0.0})
    loss, _ = method.compute_loss(_views(method), step=0)
    loss.backward()
    assert all(p.grad is not None for p in method.composer.parameters())
    assert all(p.grad is None or p.grad.abs().sum() == 0 for p in method.decomposer.parameters())


def test_parts_of_a_size_the_encoder_cannot_take_are_a_config_error():
    with pytest.raises(ConfigError, match="sub-parts"):
        _eden(3, crop=12)


def test_the_teacher_follows_the_student_after_an_optimizer_step():
    method, _ = _eden(3)
    before = [p.clone() for p in method.teacher_encoder.parameters()]
    with torch.no_grad():
        for p in method.encoder.parameters():
            p.add_(1.0)
    method.update_teacher()
    moved = [
        not torch.equal(a, b)
        for a, b in zip(before, method.teacher_encoder.parameters(), strict=True)
    ]
    assert all(moved)
