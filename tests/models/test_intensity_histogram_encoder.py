"""The histogram control: its pooled embedding is the patch's intensity histogram, it exports
and reloads like any encoder, and it has nothing to train."""

import numpy as np
import pytest
import torch

from anatomy_ssl.export import export_scratch, load_encoder
from anatomy_ssl.models import IntensityHistogramEncoder, create_encoder


def test_pooled_embedding_counts_voxels_per_bin():
    encoder = IntensityHistogramEncoder(spatial_dims=3, bins=5, low=0.0, high=1.0)
    # bin centres 0, .25, .5, .75, 1: 6 voxels at 0, 2 at .75, 8 halfway between .25 and .5
    values = torch.tensor([0.0] * 6 + [0.75] * 2 + [0.375] * 8).reshape(1, 1, 2, 2, 4)
    pooled = encoder.forward_pooled(values)[0].numpy()
    np.testing.assert_allclose(pooled, [6 / 16, 4 / 16, 4 / 16, 2 / 16, 0.0], atol=1e-6)


def test_memberships_sum_to_one_and_values_outside_the_range_are_clipped():
    encoder = create_encoder("intensity_histogram", spatial_dims=2, in_channels=2)
    x = torch.randn(3, 2, 6, 6) * 2  # many values outside [0, 1]
    (features,) = encoder.forward_features(x)
    assert features.shape == (3, 32, 6, 6)
    torch.testing.assert_close(features.sum(dim=1), torch.ones(3, 6, 6))
    below = x[:, 0] < 0
    assert torch.all(features[:, 0][below] == 1.0)  # all weight on the lowest bin


def test_exports_and_reloads_without_weights(tmp_path):
    encoder = create_encoder("intensity_histogram", bins=8)
    assert not encoder.trainable and not list(encoder.parameters())
    folder = export_scratch(encoder, tmp_path / "histogram", preprocess={}, preprocess_hash="x")
    loaded = load_encoder(folder)
    x = torch.rand(2, 1, 4, 4, 4)
    torch.testing.assert_close(loaded.forward_pooled(x), encoder.forward_pooled(x))


@pytest.mark.parametrize("settings", [{"bins": 1}, {"low": 1.0, "high": 0.0}])
def test_bad_settings_are_refused(settings):
    with pytest.raises(ValueError):
        IntensityHistogramEncoder(**settings)
