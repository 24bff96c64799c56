"""LocationConditionedEncoder: stage shapes, the location's effect (and its absence in the plain
twin), per-sample independence, the registry entries and gradients to the routing layers."""

import json

import pytest
import torch

from anatomy_ssl.models import (
    ConditionalConvolution,
    Encoder,
    LocationConditionedEncoder,
    ResidualUNetEncoder,
    create_encoder,
)


def _locations(batch: int, spatial_dims: int, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(batch, spatial_dims, generator=generator) * 2 - 1  # (B, L) in [-1, 1]


@pytest.mark.parametrize("spatial_dims", [2, 3])
@pytest.mark.parametrize(("first_stride", "strides"), [(1, (1, 2, 4)), (2, (2, 4, 8))])
def test_feature_maps_have_the_stage_shapes(spatial_dims, first_stride, strides):
    torch.manual_seed(0)
    encoder = LocationConditionedEncoder(
        spatial_dims, 2, channels=(8, 16, 32), first_stride=first_stride, experts=2
    )
    assert encoder.strides == strides and encoder.out_channels == (8, 16, 32)
    assert encoder.min_input_multiple == strides[-1]
    size = 16
    x = torch.randn(2, 2, *(size,) * spatial_dims)
    features = encoder.forward_features(x, _locations(2, spatial_dims))
    assert [tuple(f.shape) for f in features] == [
        (2, c, *(size // s,) * spatial_dims) for c, s in zip((8, 16, 32), strides, strict=True)
    ]
    assert encoder(x, _locations(2, spatial_dims)).shape == (2, 32)


def test_every_three_cubed_convolution_is_conditional_and_projections_are_one_by_one():
    encoder = LocationConditionedEncoder(3, 1, channels=(8, 16), subunits=3, experts=2)
    conditional = [m for m in encoder.modules() if isinstance(m, ConditionalConvolution)]
    assert len(conditional) == 2 * 3
    assert all(m.kernel_size == (3, 3, 3) and m.experts == 2 for m in conditional)
    plain = [m for m in encoder.modules() if isinstance(m, torch.nn.Conv3d)]
    assert [(m.kernel_size, m.stride) for m in plain] == [((1, 1, 1), (2, 2, 2))] * 2


def test_the_location_changes_the_output_only_when_conditional():
    x = torch.randn(1, 1, 8, 8, 8).repeat(2, 1, 1, 1, 1)  # the same patch twice
    location = torch.tensor([[-0.8, 0.1, 0.6], [0.7, -0.5, -0.2]])
    for conditional in (True, False):
        torch.manual_seed(0)
        encoder = LocationConditionedEncoder(
            3, 1, channels=(8, 16), first_stride=1, experts=2, conditional=conditional
        )
        pooled = encoder(x, location)
        if conditional:
            assert not torch.allclose(pooled[0], pooled[1], atol=1e-4)
        else:
            torch.testing.assert_close(pooled[0], pooled[1])
            torch.testing.assert_close(encoder(x, location.flip(0)), pooled)


def test_samples_are_encoded_independently_of_their_batch():
    torch.manual_seed(0)
    encoder = create_encoder("test_drasclr", spatial_dims=2)
    x, location = torch.randn(3, 1, 16, 16), _locations(3, 2)
    batched = encoder(x, location)
    alone = torch.cat([encoder(x[b : b + 1], location[b : b + 1]) for b in range(3)])
    torch.testing.assert_close(batched, alone, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("conditional", [True, False])
def test_a_missing_or_misshaped_location_is_a_clear_error(conditional):
    encoder = LocationConditionedEncoder(3, 1, channels=(8,), experts=2, conditional=conditional)
    x = torch.randn(2, 1, 8, 8, 8)
    for call in (encoder.forward_features, encoder.forward_pooled, encoder):
        with pytest.raises(ValueError, match=r"needs `location`.*normalized patch centre"):
            call(x)
    with pytest.raises(ValueError, match=r"location must be \(B, 3\) = \(2, 3\).*\(2, 2\)"):
        encoder(x, torch.zeros(2, 2))


def test_requires_location_marks_both_twins_and_no_other_encoder():
    assert Encoder.requires_location is False
    assert ResidualUNetEncoder.requires_location is False
    assert create_encoder("test_drasclr").requires_location is True
    assert create_encoder("test_drasclr", conditional=False).requires_location is True


def test_invalid_arguments_are_rejected():
    with pytest.raises(ValueError, match="first_stride"):
        LocationConditionedEncoder(3, 1, first_stride=4)
    with pytest.raises(ValueError, match="num_groups=8 must divide"):
        LocationConditionedEncoder(3, 1, channels=(12, 24))
    with pytest.raises(ValueError, match="at least one stage"):
        LocationConditionedEncoder(3, 1, channels=())
    with pytest.raises(ValueError, match="spatial_dims must be 2 or 3"):
        LocationConditionedEncoder(1, 1)


@pytest.mark.parametrize("spatial_dims", [2, 3])
def test_the_registry_config_rebuilds_an_identical_network(spatial_dims):
    torch.manual_seed(0)
    encoder = create_encoder("test_drasclr", spatial_dims=spatial_dims, in_channels=2)
    assert isinstance(encoder, LocationConditionedEncoder) and encoder.conditional
    assert encoder.config == {
        "name": "test_drasclr",
        "spatial_dims": spatial_dims,
        "in_channels": 2,
    }
    rebuilt = create_encoder(**json.loads(json.dumps(encoder.config)))
    rebuilt.load_state_dict(encoder.state_dict(), strict=True)
    x, location = torch.randn(2, 2, *(8,) * spatial_dims), _locations(2, spatial_dims)
    torch.testing.assert_close(rebuilt(x, location), encoder(x, location))


def test_a_directly_built_encoder_records_a_rebuilding_config():
    encoder = LocationConditionedEncoder(2, 1, channels=(8, 16), experts=3, conditional=False)
    assert encoder.config["name"] == "drasclr"
    rebuilt = create_encoder(**json.loads(json.dumps(encoder.config)))
    assert not rebuilt.conditional
    rebuilt.load_state_dict(encoder.state_dict(), strict=True)


def test_registered_sizes_and_the_plain_twin_match_the_conditional_one():
    with torch.device("meta"):  # shapes only: no memory, no initialisation cost
        small, plain, full, full_plain = (
            create_encoder(name)
            for name in ("drasclr_small", "drasclr_small_plain", "drasclr", "drasclr_plain")
        )
    assert (small.out_channels, small.strides) == ((16, 32, 64, 128), (2, 4, 8, 16))
    assert (full.out_channels, full.strides) == ((16, 32, 64, 128, 256), (2, 4, 8, 16, 32))
    assert small.conditional and full.conditional and not plain.conditional
    assert not full_plain.conditional and full_plain.out_channels == full.out_channels
    experts = [m for m in small.modules() if isinstance(m, ConditionalConvolution)]
    assert {m.experts for m in experts} == {8} and len(experts) == 8
    plain_convs = [m for m in plain.modules() if isinstance(m, torch.nn.Conv3d)]
    plain_three = [m for m in plain_convs if m.kernel_size == (3, 3, 3)]
    assert [tuple(m.weight.shape) for m in plain_three] == [
        tuple(m.weight.shape[1:]) for m in experts
    ]
    assert len(plain_convs) - len(plain_three) == 4  # the four strided 1x1 projections


def test_gradients_reach_every_routing_layer():
    torch.manual_seed(0)
    encoder = create_encoder("test_drasclr")
    features = encoder.forward_features(torch.randn(2, 1, 8, 8, 8), _locations(2, 3))
    # Random weights: a plain sum of normalized maps would have zero gradient.
    sum((f * torch.randn_like(f)).sum() for f in features).backward()
    routing = [m.routing for m in encoder.modules() if isinstance(m, ConditionalConvolution)]
    assert len(routing) == 6
    for layer in routing:
        assert layer.weight.grad is not None and layer.weight.grad.abs().sum() > 0
        assert torch.isfinite(layer.weight.grad).all()
