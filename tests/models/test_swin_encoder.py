"""SwinEncoder: SwinUNETR's encoder, key for key and output for output."""

import pytest
import torch
from monai.networks.nets import SwinUNETR

from anatomy_ssl.models import SwinEncoder

TINY = {"feature_size": 12, "depths": (1, 1, 1, 1), "num_heads": (1, 1, 2, 2)}


@pytest.mark.parametrize("use_v2", [False, True])
def test_maps_equal_swin_unetrs_hidden_states(use_v2):
    torch.manual_seed(0)
    encoder = SwinEncoder(3, 1, use_v2=use_v2, **TINY).eval()
    network = SwinUNETR(in_channels=1, out_channels=2, use_v2=use_v2, **TINY).eval()
    network.swinViT.load_state_dict(encoder.swinViT.state_dict())
    x = torch.randn(1, 1, 32, 32, 32)
    with torch.no_grad():
        ours = encoder.forward_features(x)
        theirs = network.swinViT(x, network.normalize)
    assert len(ours) == 5
    for mine, reference in zip(ours, theirs, strict=True):
        assert torch.equal(mine, reference)


def test_strides_and_channels_of_the_five_maps():
    encoder = SwinEncoder(2, 3, **TINY)
    assert encoder.strides == (2, 4, 8, 16, 32) and encoder.min_input_multiple == 32
    assert encoder.out_channels == (12, 24, 48, 96, 192) and encoder.embed_dim == 192


def test_invalid_arguments_are_rejected():
    with pytest.raises(ValueError, match="4 entries"):
        SwinEncoder(3, 1, depths=(2, 2, 2), num_heads=(3, 6, 12))
    with pytest.raises(ValueError, match="downsample"):
        SwinEncoder(3, 1, downsample="pool", **TINY)
