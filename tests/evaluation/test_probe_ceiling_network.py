import pytest
import torch

from anatomy_ssl.evaluation.frozen_feature_head import FrozenFeatureHead
from anatomy_ssl.evaluation.probe_ceiling_network import ProbeCeilingNetwork
from anatomy_ssl.evaluation.segmentation_finetuning import build_segmentation_network
from anatomy_ssl.models import create_encoder


@pytest.mark.parametrize("dims", [2, 3])
def test_three_heads_read_one_trainable_encoder(dims):
    torch.manual_seed(0)
    encoder = create_encoder("test_resunet", spatial_dims=dims, in_channels=1)
    network = build_segmentation_network(encoder, num_classes=4, mode="ceiling")
    assert isinstance(network, ProbeCeilingNetwork)
    assert network.linear_deep.levels == tuple(range(1, len(encoder.out_channels)))
    x = torch.rand(2, 1, *(16,) * dims)
    outputs = network(x)
    assert [tuple(o.shape) for o in outputs] == [(2, 4, *(16,) * dims)] * 3
    outputs[1].sum().backward()  # the all-map linear head alone trains the encoder
    assert all(p.grad is not None for p in network.encoder.parameters())
    assert all(p.grad is None for p in network.decoder.parameters())


def test_its_linear_heads_are_the_frozen_probes_heads():
    torch.manual_seed(0)
    encoder = create_encoder("test_resunet", spatial_dims=2, in_channels=1)
    network = build_segmentation_network(encoder, num_classes=3, mode="ceiling").eval()
    probe = FrozenFeatureHead(network.encoder, 3, levels=network.linear_deep.levels).eval()
    probe.head.load_state_dict(network.linear_deep.state_dict())
    x = torch.rand(2, 1, 16, 16)
    torch.testing.assert_close(probe(x), network(x)[2])
