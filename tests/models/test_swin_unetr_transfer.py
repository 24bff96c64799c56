"""A pretrained SwinEncoder carried into MONAI's SwinUNETR."""

import pytest
import torch
from monai.networks.nets import SwinUNETR

from anatomy_ssl.models import create_encoder, load_swin_encoder_into_swin_unetr

TINY = {"feature_size": 12, "depths": (1, 1, 1, 1), "num_heads": (1, 1, 2, 2)}


@pytest.mark.parametrize("spatial_dims", [2, 3])
def test_every_swin_vit_tensor_is_copied(spatial_dims):
    torch.manual_seed(0)
    encoder = create_encoder("test_swin", spatial_dims=spatial_dims)
    network = SwinUNETR(in_channels=1, out_channels=3, spatial_dims=spatial_dims, **TINY)
    keys = load_swin_encoder_into_swin_unetr(encoder, network)
    assert len(keys) == len(network.swinViT.state_dict())
    assert all(key.startswith("swinViT.") for key in keys)
    network_state = network.state_dict()
    for key, value in encoder.swinViT.state_dict().items():
        assert torch.equal(network_state[f"swinViT.{key}"], value), key


@pytest.mark.parametrize(
    ("override", "problem"),
    [
        ({"feature_size": 24}, "shape-mismatched keys"),
        ({"depths": (2, 1, 1, 1)}, "missing keys: layers1.0.blocks.1"),
        ({"use_v2": True}, "missing keys: layers1c"),
        ({"in_channels": 2}, "patch_embed.proj.weight"),
    ],
)
def test_a_mismatched_network_is_refused(override, problem):
    encoder = create_encoder("test_swin")
    arguments = {"in_channels": 1, "out_channels": 2, **TINY, **override}
    network = SwinUNETR(**arguments)
    with pytest.raises(ValueError, match=problem):
        load_swin_encoder_into_swin_unetr(encoder, network)
