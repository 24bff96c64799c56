"""ResNetEncoder: strides from the stem, bottleneck widths, MONAI-like state-dict keys."""

import pytest
import torch
from monai.networks.nets import ResNet

from anatomy_ssl.models import ResNetEncoder

TINY = {"layers": (1, 1, 1, 1), "block_inplanes": (4, 8, 8, 16)}


@pytest.mark.parametrize(
    ("stem_stride", "no_max_pool", "strides"),
    [(2, False, (4, 8, 16, 32)), (2, True, (2, 4, 8, 16)), (1, True, (1, 2, 4, 8))],
)
def test_strides_follow_the_stem(stem_stride, no_max_pool, strides):
    encoder = ResNetEncoder(2, 1, conv1_t_stride=stem_stride, no_max_pool=no_max_pool, **TINY)
    assert encoder.strides == strides and encoder.min_input_multiple == strides[-1]
    features = encoder.forward_features(torch.randn(2, 1, 64, 64))
    assert [f.shape[-1] for f in features] == [64 // s for s in strides]


def test_bottleneck_blocks_expand_the_widths_fourfold():
    encoder = ResNetEncoder(3, 1, block="bottleneck", no_max_pool=True, **TINY)
    assert encoder.out_channels == (16, 32, 32, 64)
    features = encoder.forward_features(torch.randn(1, 1, 32, 32, 32))
    assert [f.shape[1] for f in features] == [16, 32, 32, 64]


def test_keys_are_monais_resnet_keys_without_the_classifier():
    encoder = ResNetEncoder(3, 2, conv1_t_size=3, **TINY)
    monai = ResNet(
        "basic", [1, 1, 1, 1], [4, 8, 8, 16], spatial_dims=3, n_input_channels=2, conv1_t_size=3
    )
    expected = {f"resnet.{k}": v.shape for k, v in monai.state_dict().items() if "fc." not in k}
    assert {k: v.shape for k, v in encoder.state_dict().items()} == expected


def test_invalid_arguments_are_rejected():
    with pytest.raises(ValueError, match="block must be one of"):
        ResNetEncoder(3, 1, block="wide")
    with pytest.raises(ValueError, match="4 entries"):
        ResNetEncoder(3, 1, layers=(1, 1, 1))
