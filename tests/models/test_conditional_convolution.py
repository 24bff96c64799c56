"""ConditionalConvolution: the batched grouped convolution against a per-sample re-statement
of DrasCLR's mixed kernel, constant routing, shapes, initialisation and errors."""

import math

import pytest
import torch
from torch import nn
from torch.nn import functional

from anatomy_ssl.models import ConditionalConvolution

CONVOLUTIONS = {2: functional.conv2d, 3: functional.conv3d}


def per_sample_reference(
    layer: ConditionalConvolution, x: torch.Tensor, location: torch.Tensor
) -> torch.Tensor:
    """The paper's equation one sample at a time: kernel_b = sum_e sigmoid(A p_b + b)_e W_e."""
    outputs = []
    for sample, position in zip(x, location, strict=True):
        routing = torch.sigmoid(layer.routing.weight @ position + layer.routing.bias)  # (E,)
        kernel = sum(routing[e] * layer.weight[e] for e in range(layer.experts))
        bias = sum(routing[e] * layer.bias[e] for e in range(layer.experts))
        outputs.append(
            CONVOLUTIONS[layer.spatial_dims](
                sample[None], kernel, bias, stride=layer.stride, padding=layer.padding
            )
        )
    return torch.cat(outputs)


def _inputs(spatial_dims: int, batch: int, channels: int, size: int, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, channels, *(size,) * spatial_dims, generator=generator)
    location = torch.rand(batch, spatial_dims, generator=generator) * 2 - 1
    return x.double(), location.double()


@pytest.mark.parametrize("spatial_dims", [2, 3])
@pytest.mark.parametrize(("kernel_size", "stride", "padding"), [(3, 1, 1), (3, 2, 0), (1, 2, 0)])
def test_batched_equals_the_per_sample_loop_in_values_and_gradients(
    spatial_dims, kernel_size, stride, padding
):
    torch.manual_seed(0)
    layer = ConditionalConvolution(
        spatial_dims, 3, 4, kernel_size, stride=stride, padding=padding, experts=3
    ).double()
    # Routing far from constant, so a wrong pairing of samples and kernels shows.
    nn.init.normal_(layer.routing.weight, std=2.0)
    x, location = _inputs(spatial_dims, batch=3, channels=3, size=7)
    x.requires_grad_(True)
    grad_out = None
    results = []
    for forward in (layer, lambda x, p: per_sample_reference(layer, x, p)):
        layer.zero_grad()
        x.grad = None
        out = forward(x, location)
        if grad_out is None:
            grad_out = torch.randn_like(out)
        (out * grad_out).sum().backward()
        grads = [x.grad, layer.weight.grad, layer.bias.grad]
        grads += [layer.routing.weight.grad, layer.routing.bias.grad]
        results.append((out.detach(), [g.clone() for g in grads]))
    (batched, batched_grads), (reference, reference_grads) = results
    torch.testing.assert_close(batched, reference)
    for name, got, expected in zip(
        ["x", "weight", "bias", "routing.weight", "routing.bias"],
        batched_grads,
        reference_grads,
        strict=True,
    ):
        assert expected.abs().sum() > 0, name
        torch.testing.assert_close(got, expected, msg=f"gradient of {name}")


@pytest.mark.parametrize("spatial_dims", [2, 3])
def test_constant_routing_is_one_plain_convolution(spatial_dims):
    torch.manual_seed(1)
    layer = ConditionalConvolution(spatial_dims, 2, 5, 3, padding=1, experts=4).double()
    with torch.no_grad():
        layer.routing.weight.zero_()
        layer.routing.bias.copy_(torch.tensor([-2.0, -0.5, 0.3, 1.7]))
    gates = torch.sigmoid(layer.routing.bias.detach())  # (E,)
    kernel = torch.einsum("e,eoi...->oi...", gates, layer.weight.detach())
    bias = gates @ layer.bias.detach()
    x, location = _inputs(spatial_dims, batch=4, channels=2, size=6, seed=1)
    expected = CONVOLUTIONS[spatial_dims](x, kernel, bias, padding=1)
    torch.testing.assert_close(layer(x, location), expected)
    torch.testing.assert_close(layer(x, -location), expected)


def test_the_location_selects_the_kernel():
    torch.manual_seed(2)
    layer = ConditionalConvolution(3, 2, 3, 3, padding=1)
    x = torch.randn(1, 2, 5, 5, 5).repeat(2, 1, 1, 1, 1)
    out = layer(x, torch.tensor([[-0.9, 0.0, 0.5], [0.8, -0.3, -1.0]]))
    assert not torch.allclose(out[0], out[1], atol=1e-4)
    same = layer(x, torch.tensor([[0.2, 0.1, -0.4]]).repeat(2, 1))
    torch.testing.assert_close(same[0], same[1])


@pytest.mark.parametrize("spatial_dims", [2, 3])
@pytest.mark.parametrize(
    ("kernel_size", "stride", "padding", "size"),
    [(3, 1, 1, 8), (3, 2, 1, 8), (3, 2, 1, 7), (1, 2, 0, 9), ((3, 1, 3), (1, 2, 2), (1, 0, 1), 8)],
)
def test_output_shapes_match_a_plain_convolution(spatial_dims, kernel_size, stride, padding, size):
    if isinstance(kernel_size, tuple):
        kernel_size, stride, padding = (v[:spatial_dims] for v in (kernel_size, stride, padding))
    layer = ConditionalConvolution(
        spatial_dims, 2, 3, kernel_size, stride=stride, padding=padding, bias=False, experts=2
    )
    plain = (nn.Conv2d, nn.Conv3d)[spatial_dims - 2](2, 3, kernel_size, stride, padding)
    x = torch.randn(3, 2, *(size,) * spatial_dims)
    out = layer(x, torch.zeros(3, spatial_dims))
    assert layer.bias is None
    assert out.shape == plain(x).shape
    assert layer.weight.shape == (2, *plain.weight.shape)


def test_experts_are_initialised_like_a_plain_convolution():
    torch.manual_seed(3)
    layer = ConditionalConvolution(3, 16, 8, 3, experts=4)
    bound = 1 / math.sqrt(16 * 27)  # kaiming-uniform with a = sqrt(5), as nn.Conv3d
    for expert in range(4):
        assert layer.weight[expert].abs().max() <= bound
        assert layer.weight[expert].abs().max() > 0.99 * bound  # 3456 draws fill the range
        assert layer.bias[expert].abs().max() <= bound
    assert not torch.equal(layer.weight[0], layer.weight[1])


def test_location_dims_can_differ_from_spatial_dims():
    layer = ConditionalConvolution(2, 1, 2, 3, padding=1, location_dims=5)
    assert layer.routing.in_features == 5
    assert layer(torch.randn(2, 1, 6, 6), torch.zeros(2, 5)).shape == (2, 2, 6, 6)


def test_bad_locations_and_inputs_are_clear_errors():
    layer = ConditionalConvolution(3, 2, 3, 3, padding=1)
    x = torch.randn(2, 2, 4, 4, 4)
    with pytest.raises(ValueError, match=r"location must be \(B, 3\).*got shape \(2, 2\)"):
        layer(x, torch.zeros(2, 2))
    with pytest.raises(ValueError, match=r"location must be \(B, 3\).*got shape \(3,\)"):
        layer(x, torch.zeros(3))
    with pytest.raises(ValueError, match="location has 3 rows but x has 2 samples"):
        layer(x, torch.zeros(3, 3))
    with pytest.raises(ValueError, match=r"x must be \(B, 2, \*spatial\) with 3 spatial"):
        layer(torch.randn(2, 2, 4, 4), torch.zeros(2, 3))
    with pytest.raises(ValueError, match=r"x must be \(B, 2"):
        layer(torch.randn(2, 1, 4, 4, 4), torch.zeros(2, 3))
    with pytest.raises(ValueError, match="spatial_dims must be 2 or 3"):
        ConditionalConvolution(1, 2, 3, 3)
    with pytest.raises(ValueError, match="kernel_size needs 3 entries"):
        ConditionalConvolution(3, 2, 3, (3, 3))
