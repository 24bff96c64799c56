"""DrasCLR's method: the two terms from one batch, the tagged queue it fills, the location it
passes to a conditioned encoder, its ablations and its configuration errors."""

import pytest
import torch

from anatomy_ssl.errors import ConfigError
from anatomy_ssl.losses import LocationMatchedInfoNCE, TaggedFeatureQueue, neighbour_query
from anatomy_ssl.methods import create_method
from anatomy_ssl.models import create_encoder
from anatomy_ssl.training.pretrain_config import resolve_pretrain_config

B, K, CROP = 4, 2, 16


def _method(encoder_name="test_drasclr", **drasclr):
    overrides = {
        "method": "drasclr",
        "data.crop_size_vox": CROP,
        "data.batch_size": B,
        "drasclr.queue_size": 64,
        "drasclr.frame": "unused",
        **{f"drasclr.{key}": value for key, value in drasclr.items()},
    }
    config = resolve_pretrain_config(overrides)
    torch.manual_seed(0)
    encoder = create_encoder(encoder_name, spatial_dims=3, in_channels=1)
    method = create_method(encoder, config)
    method.log = lambda name, value, **kwargs: method.logged.__setitem__(name, value)
    method.logged = {}
    return method


def _batch(seed=0):
    generator = torch.Generator().manual_seed(seed)
    views = [torch.randn(B, 1, CROP, CROP, CROP, generator=generator) for _ in range(2 + K)]
    batch = {
        "views": views,
        "subject": torch.tensor([0, 1, 2, 3]),
        "location_index": torch.tensor([5, 5, 7, 7]),
        "location": torch.rand(B, 3, generator=generator) * 2 - 1,
        "neighbour_index": torch.tensor([[4, 6], [4, 6], [6, 8], [6, 8]]),
        "neighbour_location": torch.rand(B, K, 3, generator=generator) * 2 - 1,
    }
    return views, batch


def _fill(queue: TaggedFeatureQueue, seed=1):
    """Keys at locations 5 and 7 of subjects 0..3 and of a subject 9."""
    generator = torch.Generator().manual_seed(seed)
    keys = torch.randn(32, queue.features.shape[1], generator=generator)
    locations = torch.tensor([5, 7] * 16)
    subjects = torch.tensor([0, 1, 2, 3, 9, 9, 9, 9] * 4)
    queue.enqueue(keys, locations, subjects)


def test_the_loss_is_the_symmetric_local_term_plus_the_neighbour_term():
    method = _method()
    _fill(method.queue)
    queue_before = method.queue.features.clone()
    views, batch = _batch()
    loss, embeddings = method.batch_loss(views, batch, step=0)

    # re-stated from the equations with the method's own modules, before the enqueue
    reference = TaggedFeatureQueue(64, 128)
    _fill(reference)
    assert torch.equal(reference.features, queue_before)
    where = torch.cat(
        [batch["location"], batch["location"], *batch["neighbour_location"].unbind(1)]
    )
    patches = torch.cat(views)
    queries = method.projection(method.encoder.forward_pooled(patches, where))
    with torch.no_grad():
        keys = method.key_projection(
            method.key_encoder.forward_pooled(patches[: 2 * B], where[: 2 * B])
        )
    infonce = LocationMatchedInfoNCE(temperature=0.2)
    tags = (batch["location_index"], batch["subject"])
    local = 0.5 * (
        infonce(queries[:B], keys[B:], *tags, reference)
        + infonce(queries[B : 2 * B], keys[:B], *tags, reference)
    )
    around = torch.stack([queries[2 * B : 3 * B], queries[3 * B :]], dim=1)  # (B, k, P)
    neighbour = infonce(neighbour_query(around), keys[B:], *tags, reference)
    assert loss.item() == pytest.approx((local + neighbour).item(), rel=1e-5)
    assert method.logged["train/local_loss"].item() == pytest.approx(local.item(), rel=1e-5)
    assert method.logged["train/neighbour_loss"].item() == pytest.approx(neighbour.item(), rel=1e-5)
    # 16 keys per location; subjects 0 and 3 have 4 of them at their own location: (12+16+16+12)/4
    assert method.logged["train/negatives_per_query"].item() == pytest.approx(14.0)
    assert embeddings.shape == (B, method.encoder.embed_dim)


def test_both_keys_are_enqueued_with_their_location_and_subject():
    method = _method()
    views, batch = _batch()
    method.batch_loss(views, batch, step=0)
    assert method.queue.locations[: 2 * B].tolist() == [5, 5, 7, 7] * 2
    assert method.queue.subjects[: 2 * B].tolist() == [0, 1, 2, 3] * 2
    assert (method.queue.subjects[2 * B :] == -1).all()


def test_a_conditioned_encoder_sees_the_location_and_a_plain_one_trains_without_it():
    views, batch = _batch()
    moved = dict(batch, location=-batch["location"])
    for encoder_name, changes in (("test_drasclr", True), ("test_resunet", False)):
        method = _method(encoder_name)
        _fill(method.queue)
        method.eval()  # the same normalization statistics for both calls
        with torch.no_grad():
            first = method.batch_loss(views, batch, step=0)[1]
            second = method.batch_loss(views, moved, step=0)[1]
        assert (not torch.allclose(first, second)) == changes, encoder_name


def test_the_ablations_drop_the_neighbour_term_or_widen_the_negatives():
    views, batch = _batch()
    no_neighbour = _method(neighbour_weight=0.0)
    _fill(no_neighbour.queue)
    loss, _ = no_neighbour.batch_loss(views, batch, step=0)
    assert "train/neighbour_loss" not in no_neighbour.logged
    assert loss.item() == pytest.approx(no_neighbour.logged["train/local_loss"].item())

    any_location = _method(negatives="any_location")
    _fill(any_location.queue)
    any_location.batch_loss(views, batch, step=0)
    # every filled key of another subject, whatever its location: 32 - 4 of its own subject
    assert any_location.logged["train/negatives_per_query"].item() == pytest.approx(28.0)


def test_training_without_a_frame_is_a_config_error_naming_the_command():
    config = resolve_pretrain_config({"method": "drasclr"})
    method = create_method(create_encoder("test_drasclr", spatial_dims=3, in_channels=1), config)
    with pytest.raises(ConfigError, match="anatomy-ssl frame"):
        method.frame_folder()
    assert not method.flips_views
    assert method.view_groups()[0].count == 2 + config.drasclr.neighbours


def test_a_short_queue_for_the_frame_is_warned_about_once(caplog):
    method = _method(queue_size=8)
    views, batch = _batch()
    with caplog.at_level("WARNING"):
        for step in range(3):
            method.batch_loss(views, batch, step=step)
    assert sum("raise drasclr.queue_size" in r.message for r in caplog.records) == 1
