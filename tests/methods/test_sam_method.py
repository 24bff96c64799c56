"""SAM without a Trainer: matched voxels across the two crops, both logged terms, sampling."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from anatomy_ssl.configs import config_from_dict, merge_config_dicts
from anatomy_ssl.configs.pretrain_schema import PretrainConfig
from anatomy_ssl.methods import SAMMethod
from anatomy_ssl.methods.sam_method import sample_map
from anatomy_ssl.models import create_encoder


def _sam(spatial_dims: int = 3, **overrides) -> tuple[SAMMethod, dict]:
    values = {"method": "sam", "data.crop_size_vox": 16, "sam.points_per_sample": 8}
    values |= {"sam.negatives_per_sample": 16, "sam.hard_negatives": 4, **overrides}
    config = config_from_dict(PretrainConfig, merge_config_dicts({}, values))
    torch.manual_seed(0)
    encoder = create_encoder("test_resunet", spatial_dims=spatial_dims, in_channels=1)
    method = SAMMethod(encoder, config)
    logged: dict = {}
    method.log = lambda name, value, **kwargs: logged.update({name: value})  # type: ignore[method-assign]
    return method, logged


def _batch(spatial_dims: int, batch: int = 3) -> tuple[list[torch.Tensor], dict]:
    size = (16,) * spatial_dims
    views = [torch.rand(batch, 1, *size) for _ in range(2)]
    starts = torch.stack([torch.zeros(batch, spatial_dims), torch.full((batch, spatial_dims), 4)])
    flips = torch.zeros(2, batch, spatial_dims, dtype=torch.bool)
    flips[1, 0, 0] = True
    return views, {
        "entry_index": torch.tensor([0, 1, 0])[:batch],
        "view_start_vox": starts.long(),
        "view_flips": flips,
        "spacing_mm": torch.full((batch, spatial_dims), 2.0),
    }


@pytest.mark.parametrize("spatial_dims", [2, 3])
def test_the_loss_is_the_mean_of_the_logged_fine_and_coarse_terms(spatial_dims):
    method, logged = _sam(spatial_dims)
    views, batch = _batch(spatial_dims)
    loss, embeddings = method.batch_loss(views, batch, step=0)
    fine, coarse = (float(logged[f"train/{term}_loss"].detach()) for term in ("fine", "coarse"))
    assert loss.item() == pytest.approx((fine + coarse) / 2, rel=1e-6)
    assert fine > 0 and coarse > 0 and embeddings.shape == (3, method.encoder.embed_dim)
    loss.backward()
    assert all(p.grad is not None for p in method.encoder.parameters() if p.requires_grad)


def test_identical_crops_score_lower_than_crops_of_unrelated_content():
    method, _ = _sam(3)
    views, batch = _batch(3)
    batch["view_start_vox"] = torch.zeros_like(batch["view_start_vox"])
    batch["view_flips"] = torch.zeros_like(batch["view_flips"])
    same, _ = method.batch_loss([views[0], views[0].clone()], batch, step=1)
    other, _ = method.batch_loss([views[0], torch.rand_like(views[0])], batch, step=1)
    assert same.item() < other.item()


def test_maps_are_read_at_block_centres_whatever_their_stride():
    size = torch.tensor([8, 8])
    full = torch.arange(2 * 8 * 8, dtype=torch.float32).reshape(1, 2, 8, 8)
    values = sample_map(full, torch.tensor([[[0, 0], [3, 5], [7, 7]]]), size)  # stride 1
    assert values[0, :, 0].tolist() == [0.0, 29.0, 63.0] and values[0, 1, 1].item() == 93.0
    half = torch.arange(2 * 4 * 4, dtype=torch.float32).reshape(1, 2, 4, 4)  # stride 2
    read = sample_map(half, torch.tensor([[[1, 1], [0, 0], [7, 7]]]), size)[0, :, 0]
    # voxel 1 lies a quarter cell past cell 0's centre (voxel 0.5): 0.25 * (4 + 1) = 1.25;
    # voxels beyond the outer centres keep the border value
    assert read.tolist() == [1.25, 0.0, 15.0]


def test_scales_must_index_the_encoder_maps():
    with pytest.raises(ValueError, match=r"sam\.coarse_scale"):
        _sam(3, **{"sam.coarse_scale": 9})
    method, _ = _sam(3)
    with pytest.raises(ValueError, match="geometry"):
        method.compute_loss([torch.rand(1, 1, 16, 16, 16)] * 2, step=0)
    assert dataclasses.asdict(method.config.sam)["temperature"] == 0.1


def test_without_global_negatives_other_volumes_do_not_enter_the_loss():
    views, batch = _batch(3)
    batch["entry_index"] = torch.tensor([0, 1, 2])
    local, local_log = _sam(3, **{"sam.global_negatives": False, "sam.hard_negatives": 10_000})
    both, both_log = _sam(3, **{"sam.hard_negatives": 10_000})
    local.batch_loss(views, batch, step=0)
    both.batch_loss(views, batch, step=0)
    # fewer negatives per anchor: a lower InfoNCE for the same embeddings
    assert float(local_log["train/coarse_loss"]) < float(both_log["train/coarse_loss"])
    alone = {**batch, "entry_index": torch.tensor([0, 0, 0])}  # one volume: nothing is global
    a, _ = local.batch_loss(views, alone, step=0)
    b, _ = both.batch_loss(views, alone, step=0)
    assert a.item() == pytest.approx(b.item(), rel=1e-6)
