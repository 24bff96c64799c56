"""Alice without a Trainer: its four logged terms, the ablation switches, teacher and gradients."""

from __future__ import annotations

import pytest
import torch

from anatomy_ssl.configs import config_from_dict, merge_config_dicts
from anatomy_ssl.configs.pretrain_schema import PretrainConfig
from anatomy_ssl.methods import AliceMethod
from anatomy_ssl.models import create_encoder


def _alice(spatial_dims: int = 3, **overrides) -> tuple[AliceMethod, dict]:
    values = {"method": "alice", "data.crop_size_vox": 16, "alice.out_dim": 32}
    values |= {"alice.pairs": "same_volume", "optim.max_steps": 10, **overrides}
    config = config_from_dict(PretrainConfig, merge_config_dicts({}, values))
    torch.manual_seed(0)
    encoder = create_encoder("test_resunet", spatial_dims=spatial_dims, in_channels=1)
    method = AliceMethod(encoder, config)
    logged: dict = {}
    method.log = lambda name, value, **kwargs: logged.update({name: float(value)})  # type: ignore[method-assign]
    return method, logged


def _views(spatial_dims: int, batch: int = 4) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    return [torch.rand(batch, 1, *(16,) * spatial_dims, generator=generator) for _ in range(2)]


@pytest.mark.parametrize("spatial_dims", [2, 3])
def test_the_loss_is_the_weighted_sum_of_its_four_logged_terms(spatial_dims):
    weights = {"alice.patch_weight": 0.5, "alice.reconstruction_weight": 2.0}
    method, logged = _alice(spatial_dims, **weights)
    loss, embeddings = method.compute_loss(_views(spatial_dims), step=0)
    terms = {name: logged[f"train/{name}_loss"] for name in ("cls", "patch", "rec", "align")}
    expected = terms["cls"] + 0.5 * terms["patch"] + 2.0 * terms["rec"] + terms["align"]
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    assert all(value > 0 for value in terms.values())
    assert embeddings.shape == (4, method.encoder.embed_dim)


def test_gradients_reach_the_student_parts_and_never_the_teacher():
    method, _ = _alice()
    loss, _ = method.compute_loss(_views(3), step=0)
    loss.backward()
    for part in (method.encoder, method.head, method.decoder, method.alignment):
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in part.parameters())
    for part in (method.teacher_encoder, method.teacher_head, method.teacher_alignment):
        assert all(p.grad is None for p in part.parameters())


def test_ablation_switches_drop_their_terms():
    no_cafa, logged = _alice(**{"alice.alignment_weight": 0.0})
    no_cafa.compute_loss(_views(3), step=0)
    assert "train/align_loss" not in logged and "train/rec_loss" in logged
    unmasked, logged = _alice(**{"alice.mask_ratio": 0.0})
    unmasked.compute_loss(_views(3), step=0)
    assert set(logged) == {"train/cls_loss", "train/align_loss"}


def test_masked_tokens_are_the_cells_more_than_half_masked():
    mask = torch.zeros(1, 1, 4, 4, dtype=torch.bool)
    mask[..., :2, :2] = True  # one 2x2 cell fully masked
    mask[..., 2, 2] = True  # a quarter of another
    tokens = AliceMethod._masked_tokens(mask, torch.Size([2, 2]))
    assert tokens.tolist() == [[True, False, False, False]]


def test_the_teacher_follows_the_student_after_an_optimizer_step():
    method, _ = _alice()
    before = [p.clone() for p in method.teacher_encoder.parameters()]
    with torch.no_grad():
        for p in method.encoder.parameters():
            p.add_(1.0)
        for p in method.alignment.parameters():
            p.add_(1.0)
    aligned_before = [p.clone() for p in method.teacher_alignment.parameters()]
    method.update_teacher()
    after = list(method.teacher_encoder.parameters())
    assert all(not torch.equal(a, b) for a, b in zip(before, after, strict=True))
    aligned_after = list(method.teacher_alignment.parameters())
    assert all(not torch.equal(a, b) for a, b in zip(aligned_before, aligned_after, strict=True))


def test_the_reconstruction_term_is_the_mse_over_the_variance_of_the_masked_voxels():
    image = torch.arange(16.0).reshape(1, 1, 4, 4)
    mask = torch.zeros(1, 1, 4, 4, dtype=torch.bool)
    mask[..., 0, :] = True  # values 0, 1, 2, 3: variance 1.25
    assert AliceMethod._masked_variance(image, mask).item() == pytest.approx(1.25)
    assert AliceMethod._masked_variance(torch.ones(1, 1, 4, 4), mask).item() == pytest.approx(1e-6)
    method, logged = _alice(**{"alice.mask_ratio": 0.5})
    views = _views(3)
    method.compute_loss(views, step=0)
    assert 0.5 < logged["train/rec_loss"] < 20  # scale-free: near 1 for an untrained decoder
    method, scaled = _alice(**{"alice.mask_ratio": 0.5})
    method.compute_loss([view * 100 for view in views], step=0)
    assert 0.5 < scaled["train/rec_loss"] < 20


def test_settings_that_cannot_work_are_errors():
    with pytest.raises(ValueError, match="alignment_heads"):
        _alice(**{"alice.alignment_heads": 3})
    with pytest.raises(ValueError, match="mask_ratio"):
        _alice(**{"alice.mask_ratio": 1.0})
