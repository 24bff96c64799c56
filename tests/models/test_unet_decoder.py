"""UNetDecoder: full-resolution outputs over every registered test encoder's maps."""

import pytest
import torch

from anatomy_ssl.models import UNetDecoder, create_encoder, list_encoders

TEST_ENCODERS = [name for name in list_encoders() if name.startswith("test_")]


@pytest.mark.parametrize(("spatial_dims", "size"), [(2, 64), (3, 32)])
@pytest.mark.parametrize("name", TEST_ENCODERS)
def test_decodes_each_encoder_to_full_resolution(name, spatial_dims, size):
    encoder = create_encoder(name, spatial_dims=spatial_dims)
    decoder = UNetDecoder(encoder.out_channels, encoder.strides, 3, spatial_dims)
    location = {"location": torch.zeros(2, spatial_dims)} if encoder.requires_location else {}
    features = encoder.forward_features(torch.randn(2, 1, *(size,) * spatial_dims), **location)
    output = decoder(features, (size,) * spatial_dims)
    assert output.shape == (2, 3, *(size,) * spatial_dims)
    output.mean().backward()
    assert all(p.grad is not None for p in decoder.parameters())


@pytest.mark.parametrize(
    ("strides", "full_resolution_stages"),
    [((1, 2, 4), 0), ((2, 4, 8), 1), ((4, 8, 16, 32), 2), ((16,), 4), ((3, 6), 1), ((12,), 3)],
)
def test_stage_counts_follow_the_strides(strides, full_resolution_stages):
    decoder = UNetDecoder([8] * len(strides), strides, 1, spatial_dims=2)
    assert len(decoder.skip_stages) == len(strides) - 1
    assert len(decoder.full_resolution_stages) == full_resolution_stages
    size = 2 * strides[-1]
    features = [torch.randn(1, 8, size // s, size // s) for s in strides]
    assert decoder(features, (size, size)).shape == (1, 1, size, size)


def test_decoder_channels_set_the_widths():
    decoder = UNetDecoder((4, 8, 16), (2, 4, 8), 2, 3, decoder_channels=(6, 10, 12))
    assert decoder.bottleneck.out_channels == 12
    assert [stage.upsample.out_channels for stage in decoder.skip_stages] == [10, 6]
    assert decoder.full_resolution_stages[0].upsample.out_channels == 3


def test_sizes_not_divisible_by_the_coarsest_stride_are_resampled():
    encoder = create_encoder("test_resnet", spatial_dims=2)  # strides up to 16
    decoder = UNetDecoder(encoder.out_channels, encoder.strides, 2, 2)
    features = encoder.forward_features(torch.randn(1, 1, 40, 52))
    assert decoder(features, (40, 52)).shape == (1, 2, 40, 52)


def test_inconsistent_arguments_are_rejected():
    with pytest.raises(ValueError, match="one stride per encoder map"):
        UNetDecoder((4, 8), (2,), 1, 3)
    with pytest.raises(ValueError, match="must divide the next"):
        UNetDecoder((4, 8), (4, 6), 1, 3)
    with pytest.raises(ValueError, match="decoder_channels needs 2"):
        UNetDecoder((4, 8), (2, 4), 1, 3, decoder_channels=(4,))
    decoder = UNetDecoder((4, 8), (2, 4), 1, 2)
    with pytest.raises(ValueError, match="expected 2 maps"):
        decoder([torch.randn(1, 8, 2, 2)], (8, 8))


def test_the_hidden_map_is_the_first_upsampled_stage():
    decoder = UNetDecoder((4, 8, 16), (2, 4, 8), 2, 3, decoder_channels=(6, 10, 12))
    features = [torch.randn(1, c, 32 // s, 32 // s, 32 // s) for c, s in ((4, 2), (8, 4), (16, 8))]
    output, hidden = decoder.forward_with_hidden(features, (32, 32, 32))
    assert hidden.shape == (1, 10, 8, 8, 8)  # decoder_channels[-2] at the stride-4 map's size
    torch.testing.assert_close(output, decoder(features, (32, 32, 32)))
    single = UNetDecoder((8,), (16,), 1, 2)
    _, projection = single.forward_with_hidden([torch.randn(1, 8, 2, 2)], (32, 32))
    assert projection.shape == (1, 8, 2, 2)  # a one-map encoder: the bottleneck projection
