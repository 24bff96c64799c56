import pytest
import torch
from torch.nn import functional

from anatomy_ssl.evaluation.frozen_feature_head import FrozenFeatureHead
from anatomy_ssl.models import create_encoder


def _concatenated_head(head, x):
    """The head as described: upsample every map, concatenate, one 1x1 conv."""
    mode = "trilinear" if x.ndim == 5 else "bilinear"
    size = x.shape[2:]
    maps = [
        functional.interpolate(norm(f), size=size, mode=mode, align_corners=False)
        for f, norm in zip(head.encoder.forward_features(x), head.head.norms, strict=True)
    ]
    stacked = torch.cat(maps, dim=1)  # (B, sum C_s, *S)
    weight = torch.cat([p.weight for p in head.head.projections], dim=1)  # (K, sum C_s, 1, ...)
    bias = head.head.projections[0].bias
    conv = functional.conv3d if x.ndim == 5 else functional.conv2d
    return conv(stacked, weight, bias)


@pytest.mark.parametrize(
    ("spatial_dims", "size"), [(3, (12, 8, 16)), (2, (20, 12)), (3, (10, 9, 11))]
)
def test_head_equals_a_1x1_conv_over_upsampled_concatenated_features(spatial_dims, size):
    torch.manual_seed(0)
    encoder = create_encoder("test_resunet", spatial_dims=spatial_dims, in_channels=1)
    head = FrozenFeatureHead(encoder, num_classes=5)
    x = torch.randn(2, 1, *size)
    head.train()
    head(x)  # batch statistics flow into the running estimates used in eval mode
    head.eval()
    with torch.no_grad():
        expected = _concatenated_head(head, x)
        actual = head(x)
    assert actual.shape == (2, 5, *size)
    torch.testing.assert_close(actual, expected, rtol=1e-4, atol=1e-5)


def test_only_the_head_is_trained_and_the_encoder_stays_in_eval_mode():
    encoder = create_encoder("test_resnet", spatial_dims=3, in_channels=1)  # has batch norm
    head = FrozenFeatureHead(encoder, num_classes=3, normalize_features=False)
    head.train()
    assert head.training and not head.encoder.training
    assert not any(module.training for module in head.encoder.modules())
    before = {k: v.clone() for k, v in head.encoder.state_dict().items()}
    logits = head(torch.randn(2, 1, 16, 16, 16))
    logits.sum().backward()
    assert all(p.grad is None for p in head.encoder.parameters())
    assert all(p.grad is not None for p in head.head.projections.parameters())
    for key, value in head.encoder.state_dict().items():  # running statistics untouched
        torch.testing.assert_close(value, before[key], rtol=0, atol=0)
    trainable = [p for p in head.parameters() if p.requires_grad]
    assert sum(p.numel() for p in trainable) == sum(
        p.numel() for p in head.head.projections.parameters()
    )


def test_input_of_the_wrong_rank_is_rejected():
    head = FrozenFeatureHead(create_encoder("test_resunet", spatial_dims=2), num_classes=2)
    with pytest.raises(ValueError, match="expected a 4D batch"):
        head(torch.zeros(1, 1, 8, 8, 8))


class _TwoMapEncoder(torch.nn.Module):
    """Stub: the finest map is the input itself, the coarser one a pooled copy."""

    spatial_dims = 3
    in_channels = 1
    out_channels = (1, 1)
    strides = (1, 2)

    def forward_features(self, x):
        return [x, functional.avg_pool3d(x, 2)]


def test_levels_choose_the_maps_the_head_reads():
    torch.manual_seed(0)
    head = FrozenFeatureHead(_TwoMapEncoder(), num_classes=3, levels=[1], normalize_features=False)
    assert head.levels == (1,) and len(head.head.projections) == 1
    x = torch.randn(1, 1, 8, 8, 8)
    blockwise_equal = functional.interpolate(functional.avg_pool3d(x, 2), scale_factor=2)
    with torch.no_grad():
        # a voxel-level change that keeps every 2^3 block's mean leaves the deeper map unchanged
        torch.testing.assert_close(head(x), head(blockwise_equal))
        full = FrozenFeatureHead(_TwoMapEncoder(), num_classes=3, normalize_features=False)
        assert not torch.allclose(full(x), full(blockwise_equal))


@pytest.mark.parametrize("levels", [[], [2], [-3]])
def test_levels_outside_the_encoders_maps_are_refused(levels):
    with pytest.raises(ValueError, match="levels"):
        FrozenFeatureHead(_TwoMapEncoder(), num_classes=3, levels=levels)


def test_the_deep_mode_leaves_out_the_finest_map():
    from anatomy_ssl.evaluation.segmentation_finetuning import build_segmentation_network

    encoder = create_encoder("test_resunet", spatial_dims=3, in_channels=1)
    network = build_segmentation_network(encoder, num_classes=4, mode="frozen_deep")
    assert network.levels == tuple(range(1, len(encoder.out_channels)))
