"""SegmentationNetwork: dense logits from any encoder, trainable end to end."""

import pytest
import torch

from anatomy_ssl.models import SegmentationNetwork, create_encoder


@pytest.mark.parametrize(("name", "spatial_dims"), [("test_resunet", 3), ("test_vit", 2)])
def test_logits_have_the_input_size(name, spatial_dims):
    network = SegmentationNetwork(create_encoder(name, spatial_dims=spatial_dims), num_classes=4)
    x = torch.randn(2, 1, *(32,) * spatial_dims)
    logits = network(x)
    assert logits.shape == (2, 4, *(32,) * spatial_dims)
    torch.nn.functional.cross_entropy(logits, torch.randint(0, 4, (2, *x.shape[2:]))).backward()
    assert all(p.grad is not None for p in network.encoder.parameters() if p.requires_grad)


def test_encoder_weights_load_into_the_network_encoder():
    source = create_encoder("test_resnet")
    network = SegmentationNetwork(create_encoder(**source.config), num_classes=2)
    network.encoder.load_state_dict(source.state_dict())
    for key, value in source.state_dict().items():
        assert torch.equal(network.state_dict()[f"encoder.{key}"], value)


def test_custom_decoder_widths_and_wrong_input_rank():
    network = SegmentationNetwork(
        create_encoder("test_resnet", spatial_dims=2), 2, decoder_channels=(4, 4, 4, 4)
    )
    assert network.decoder.bottleneck.out_channels == 4
    with pytest.raises(ValueError, match="expected a 4D batch"):
        network(torch.randn(1, 1, 16, 16, 16))
