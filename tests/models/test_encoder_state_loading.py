"""Strict loading of exported encoder weights."""

import pytest
import torch

from anatomy_ssl.models import create_encoder, load_encoder_state, load_state_strictly


def test_round_trip_copies_every_tensor():
    torch.manual_seed(0)
    source = create_encoder("test_resunet")
    target = create_encoder("test_resunet")
    load_encoder_state(target, source.state_dict())
    for key, value in source.state_dict().items():
        assert torch.equal(target.state_dict()[key], value)


def test_missing_unexpected_and_mismatched_keys_are_named():
    target = create_encoder("test_resunet")
    state = dict(create_encoder("test_resunet").state_dict())
    dropped = next(iter(state))
    del state[dropped]
    state["extra.weight"] = torch.zeros(1)
    resized = "stages.2.residual.weight"
    state[resized] = torch.zeros(1, 2, 3)
    with pytest.raises(ValueError) as caught:
        load_encoder_state(target, state)
    message = str(caught.value)
    assert f"missing keys: {dropped}" in message
    assert "unexpected keys: extra.weight" in message
    assert f"shape-mismatched keys: {resized} (expected (32, 16, 3, 3, 3), got (1, 2, 3))" in (
        message
    )


def test_long_listings_are_truncated_and_nothing_is_loaded():
    target = create_encoder("test_resnet")
    before = {k: v.clone() for k, v in target.state_dict().items()}
    with pytest.raises(ValueError, match=r"missing keys: .* and \d+ more"):
        load_state_strictly(target, create_encoder("test_resunet").state_dict())
    for key, value in target.state_dict().items():
        assert torch.equal(value, before[key])
