"""ResidualUNetEncoder: stage strides, normalization choices, single-voxel coarsest maps."""

import pytest
import torch

from anatomy_ssl.models import ResidualUNetEncoder


@pytest.mark.parametrize(("first_stride", "strides"), [(1, (1, 2, 4)), (2, (2, 4, 8))])
def test_first_stage_stride_sets_all_strides(first_stride, strides):
    encoder = ResidualUNetEncoder(2, 1, channels=(8, 16, 32), first_stride=first_stride)
    assert encoder.strides == strides and encoder.out_channels == (8, 16, 32)
    features = encoder.forward_features(torch.randn(2, 1, 32, 32))
    assert [tuple(f.shape) for f in features] == [
        (2, c, 32 // s, 32 // s) for c, s in zip((8, 16, 32), strides, strict=True)
    ]


def test_group_norm_trains_on_a_single_voxel_coarsest_map():
    encoder = ResidualUNetEncoder(3, 1, channels=(8, 16, 32, 64)).train()
    assert encoder.strides[-1] == 16
    pooled = encoder.forward_pooled(torch.randn(2, 1, 16, 16, 16))
    pooled.sum().backward()
    assert pooled.shape == (2, 64) and torch.isfinite(pooled).all()


@pytest.mark.parametrize("norm", ["instance", "batch"])
def test_other_norms_are_available(norm):
    encoder = ResidualUNetEncoder(2, 1, channels=(4, 8), norm=norm)
    assert encoder.forward_pooled(torch.randn(2, 1, 16, 16)).shape == (2, 8)


def test_invalid_arguments_are_rejected():
    with pytest.raises(ValueError, match="first_stride"):
        ResidualUNetEncoder(3, 1, first_stride=4)
    with pytest.raises(ValueError, match="num_groups=8 must divide"):
        ResidualUNetEncoder(3, 1, channels=(12, 24))
    with pytest.raises(ValueError, match="norm must be one of"):
        ResidualUNetEncoder(3, 1, norm="layer")
    with pytest.raises(ValueError, match="at least one stage"):
        ResidualUNetEncoder(3, 1, channels=())
