"""The encoder contract for every registered test encoder, and the registry's rebuild promise."""

import json

import pytest
import torch

from anatomy_ssl.models import (
    Encoder,
    ResidualUNetEncoder,
    ResNetEncoder,
    SwinEncoder,
    ViTEncoder,
    create_encoder,
    list_encoders,
)

TEST_ENCODERS = [name for name in list_encoders() if name.startswith("test_")]
INPUT_SIZE = {2: 64, 3: 32}


def _location_kwargs(encoder: Encoder, batch: int) -> dict[str, torch.Tensor]:
    """`{"location": (B, spatial_dims) in [-1, 1]}` for encoders that take one, else `{}`."""
    if not encoder.requires_location:
        return {}
    # random, not zeros: with p = 0 the routing layers' A would get no gradient
    return {"location": torch.rand(batch, encoder.spatial_dims) * 2 - 1}


def _shapes(encoder: Encoder) -> dict[str, tuple[int, ...]]:
    return {key: tuple(value.shape) for key, value in encoder.state_dict().items()}


def test_registry_names_the_required_encoders():
    required = {"resnet10", "resnet18", "resnet34", "resunet", "resunet_small", "swin", "vit_base"}
    assert required | {"test_resnet", "test_resunet", "test_swin", "test_vit"} <= set(
        list_encoders()
    )
    assert list_encoders() == sorted(list_encoders())


@pytest.mark.parametrize("spatial_dims", [2, 3])
@pytest.mark.parametrize("name", TEST_ENCODERS)
def test_feature_maps_follow_the_contract(name, spatial_dims):
    torch.manual_seed(0)
    encoder = create_encoder(name, spatial_dims=spatial_dims, in_channels=2)
    size = INPUT_SIZE[spatial_dims]
    assert size % encoder.min_input_multiple == 0
    x = torch.randn(2, 2, *(size,) * spatial_dims)
    location = _location_kwargs(encoder, 2)
    features = encoder.forward_features(x, **location)
    assert len(features) == len(encoder.strides) == len(encoder.out_channels)
    for feature, channels, stride in zip(
        features, encoder.out_channels, encoder.strides, strict=True
    ):
        assert feature.shape == (2, channels, *(size // stride,) * spatial_dims)
    assert list(encoder.strides) == sorted(encoder.strides)
    assert encoder.embed_dim == encoder.out_channels[-1]
    assert encoder.forward_pooled(x, **location).shape == (2, encoder.embed_dim)
    assert encoder(x, **location).shape == (2, encoder.embed_dim)


@pytest.mark.parametrize("spatial_dims", [2, 3])
@pytest.mark.parametrize("name", TEST_ENCODERS)
def test_gradient_reaches_every_parameter(name, spatial_dims):
    torch.manual_seed(0)
    encoder = create_encoder(name, spatial_dims=spatial_dims)
    x = torch.randn(2, 1, *(INPUT_SIZE[spatial_dims],) * spatial_dims)
    # Random weights: a plain sum of normalized maps would have zero gradient.
    features = encoder.forward_features(x, **_location_kwargs(encoder, 2))
    loss = sum((f * torch.randn_like(f)).sum() for f in features)
    loss.backward()
    trainable = [(k, p) for k, p in encoder.named_parameters() if p.requires_grad]
    assert len(trainable) > 0
    for key, parameter in trainable:
        assert parameter.grad is not None, key
        assert torch.isfinite(parameter.grad).all() and parameter.grad.abs().sum() > 0, key


@pytest.mark.parametrize("name", TEST_ENCODERS)
def test_test_encoders_are_tiny(name):
    encoder = create_encoder(name)
    assert sum(p.numel() for p in encoder.parameters()) < 400_000


@pytest.mark.parametrize("spatial_dims", [2, 3])
@pytest.mark.parametrize("name", TEST_ENCODERS)
def test_config_rebuilds_the_architecture_also_through_json(name, spatial_dims):
    encoder = create_encoder(name, spatial_dims=spatial_dims, in_channels=3)
    assert encoder.config == {"name": name, "spatial_dims": spatial_dims, "in_channels": 3}
    for config in (encoder.config, json.loads(json.dumps(encoder.config))):
        rebuilt = create_encoder(**config)
        assert type(rebuilt) is type(encoder)
        assert _shapes(rebuilt) == _shapes(encoder)
        assert (rebuilt.out_channels, rebuilt.strides) == (encoder.out_channels, encoder.strides)


def test_overrides_are_recorded_and_rebuilt():
    encoder = create_encoder("test_resnet", spatial_dims=2, block_inplanes=[4, 8, 8, 16])
    assert encoder.config["block_inplanes"] == [4, 8, 8, 16]
    assert encoder.out_channels == (4, 8, 8, 16)
    rebuilt = create_encoder(**json.loads(json.dumps(encoder.config)))
    assert _shapes(rebuilt) == _shapes(encoder)


@pytest.mark.parametrize(
    "build",
    [
        lambda: ResNetEncoder(
            2, 1, layers=(1, 1, 1, 1), block_inplanes=(4, 4, 8, 8), no_max_pool=True
        ),
        lambda: ResidualUNetEncoder(3, 2, channels=(8, 16), first_stride=1, norm="instance"),
        lambda: SwinEncoder(2, 1, feature_size=12, depths=(1, 1, 1, 1), num_heads=(1, 1, 1, 1)),
        lambda: ViTEncoder(
            2, 1, img_size=32, patch_size=8, hidden_size=16, mlp_dim=16, num_layers=1, num_heads=2
        ),
    ],
    ids=["resnet", "residual_unet", "swin", "vit"],
)
def test_directly_built_encoders_record_a_rebuilding_config(build):
    encoder = build()
    rebuilt = create_encoder(**json.loads(json.dumps(encoder.config)))
    assert type(rebuilt) is type(encoder)
    assert _shapes(rebuilt) == _shapes(encoder)


def test_unknown_names_and_arguments_are_clear_errors():
    with pytest.raises(ValueError, match=r"unknown encoder 'resnet81'.*did you mean 'resnet18'"):
        create_encoder("resnet81")
    with pytest.raises(ValueError, match=r"known: .*test_resunet"):
        create_encoder("nonsense")
    with pytest.raises(ValueError, match=r"unknown argument\(s\) \['depth'\].*depths"):
        create_encoder("test_swin", depth=(1, 1, 1, 1))
    with pytest.raises(ValueError, match="spatial_dims must be 2 or 3"):
        create_encoder("test_resunet", spatial_dims=1)


@pytest.mark.parametrize(
    ("name", "out_channels", "strides"),
    [
        ("resunet", (16, 32, 64, 128, 256), (2, 4, 8, 16, 32)),
        ("resunet_small", (16, 32, 64, 128), (2, 4, 8, 16)),
        ("swin", (48, 96, 192, 384, 768), (2, 4, 8, 16, 32)),
    ],
)
def test_cheap_full_size_encoders_are_configured_as_documented(name, out_channels, strides):
    encoder = create_encoder(name)
    assert (encoder.out_channels, encoder.strides) == (out_channels, strides)
    assert encoder.min_input_multiple == strides[-1]


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in list_encoders() if not n.startswith("test_")])
def test_full_size_encoders_follow_the_contract(name):
    encoder = create_encoder(name)
    size = max(encoder.min_input_multiple, 32)
    x = torch.randn(2, 1, size, size, size)
    with torch.no_grad():
        features = encoder.forward_features(x, **_location_kwargs(encoder, 2))
    for feature, channels, stride in zip(
        features, encoder.out_channels, encoder.strides, strict=True
    ):
        assert feature.shape == (2, channels, *(size // stride,) * 3)
