"""ViTEncoder: MONAI ViT tokens as a map; position embeddings resampled for other sizes."""

import pytest
import torch

from anatomy_ssl.models import ViTEncoder

TINY = {"patch_size": 8, "hidden_size": 16, "mlp_dim": 32, "num_layers": 2, "num_heads": 2}


def test_map_is_monais_token_output_at_the_embedding_size():
    torch.manual_seed(0)
    encoder = ViTEncoder(3, 1, img_size=32, **TINY).eval()
    x = torch.randn(2, 1, 32, 32, 32)
    with torch.no_grad():
        (feature,) = encoder.forward_features(x)
        tokens, _ = encoder.vit(x)  # (B, N, hidden)
    assert feature.shape == (2, 16, 4, 4, 4)
    assert torch.equal(feature.flatten(2).transpose(1, 2), tokens)


@pytest.mark.parametrize("size", [16, 48])
def test_other_input_sizes_get_a_resampled_position_embedding(size):
    encoder = ViTEncoder(2, 1, img_size=32, **TINY)
    (feature,) = encoder.forward_features(torch.randn(2, 1, size, size))
    assert feature.shape == (2, 16, size // 8, size // 8)
    assert encoder.position_embedding((size // 8,) * 2).shape == (1, (size // 8) ** 2, 16)


def test_default_embedding_sizes_and_unused_parameters():
    assert ViTEncoder(2, 1, **TINY).grid == (28, 28)  # 224 / 8
    encoder = ViTEncoder(3, 1, **TINY)
    assert encoder.grid == (12, 12, 12)  # 96 / 8
    frozen = {k for k, p in encoder.named_parameters() if not p.requires_grad}
    assert frozen and all("norm_cross_attn" in key for key in frozen)


def test_img_size_must_be_a_multiple_of_the_patch():
    with pytest.raises(ValueError, match="multiple of patch_size"):
        ViTEncoder(3, 1, img_size=36, **TINY)
