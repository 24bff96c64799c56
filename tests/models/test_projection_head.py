"""ProjectionHead: SimCLR (batch norm) and MoCo v2 (plain) MLPs."""

import pytest
import torch
from torch import nn

from anatomy_ssl.models import ProjectionHead


@pytest.mark.parametrize("num_layers", [1, 2, 3])
@pytest.mark.parametrize("batch_norm", [True, False])
def test_maps_embeddings_to_out_dim(num_layers, batch_norm):
    head = ProjectionHead(8, hidden_dim=16, out_dim=4, num_layers=num_layers, batch_norm=batch_norm)
    assert head(torch.randn(5, 8)).shape == (5, 4)
    linears = [m for m in head.modules() if isinstance(m, nn.Linear)]
    norms = [m for m in head.modules() if isinstance(m, nn.BatchNorm1d)]
    assert len(linears) == num_layers
    assert len(norms) == (num_layers - 1 if batch_norm else 0)


def test_single_layer_is_one_linear_map():
    head = ProjectionHead(8, out_dim=4, num_layers=1)
    x = torch.randn(3, 8)
    linear = head.mlp[0]
    assert torch.allclose(head(x), x @ linear.weight.T + linear.bias)


def test_needs_a_layer():
    with pytest.raises(ValueError, match="num_layers"):
        ProjectionHead(8, num_layers=0)
