import numpy as np
import pytest
import torch

from anatomy_ssl.embedding.dense_feature_extraction import (
    extract_dense_features,
    pooled_crop_embeddings,
)
from anatomy_ssl.models import create_encoder
from support.coordinate_volumes import PERIOD_MM, CoordinateEncoder, coordinate_volume


def fourier(points_mm: np.ndarray) -> np.ndarray:
    phase = 2 * np.pi * points_mm / PERIOD_MM
    vectors = np.concatenate([np.cos(phase), np.sin(phase)], axis=1)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def affine_for(dims: int) -> np.ndarray:
    affine = np.diag([*[6.0, 5.0, 4.0][:dims], 1.0])
    affine[:dims, dims] = [-100.0, 40.0, -250.0][:dims]
    return affine


@pytest.mark.parametrize("dims", [2, 3])
@pytest.mark.parametrize(("grid_stride", "tile"), [(1, 8), (1, 32), (2, 8), (4, 12)])
def test_features_are_the_fourier_features_of_each_cell_centre(tmp_path, dims, grid_stride, tile):
    size = (24, 20, 28)[:dims]  # multiples of every grid stride: no partly padded cell
    volume = coordinate_volume(tmp_path, size, affine_for(dims))
    dense = extract_dense_features(
        CoordinateEncoder(dims), volume, scales=(0,), grid_stride_vox=grid_stride, tile_vox=tile
    )
    assert dense.grid_size == tuple(n // grid_stride for n in size)
    assert dense.features.shape == (2 * dims, *dense.grid_size)
    assert dense.grid_stride_vox == grid_stride and dense.scale_channels == (2 * dims,)
    expected = fourier(dense.grid_points_mm())  # block centres: voxel i * g + (g - 1) / 2
    assert np.allclose(dense.flat_features().numpy(), expected, atol=1e-3)
    corner = (volume.affine @ np.r_[np.full(dims, (grid_stride - 1) / 2), 1.0])[:dims]
    assert np.allclose(dense.grid_points_mm()[0], corner)


def test_odd_sizes_get_a_covering_grid(tmp_path):
    volume = coordinate_volume(tmp_path, (13, 9, 21), affine_for(3))
    dense = extract_dense_features(CoordinateEncoder(), volume, scales=(0,), tile_vox=8)
    assert dense.grid_size == (13, 9, 21)
    assert np.allclose(dense.flat_features().numpy(), fourier(dense.grid_points_mm()), atol=1e-4)
    coarse = extract_dense_features(CoordinateEncoder(), volume, scales=(2,), tile_vox=8)
    assert coarse.grid_size == (4, 3, 6)  # ceil(size / 4)


def test_fine_and_coarse_scales_are_each_unit_norm_and_agree(tmp_path):
    volume = coordinate_volume(tmp_path, (24, 20, 28), affine_for(3))
    dense = extract_dense_features(CoordinateEncoder(), volume, tile_vox=8)  # scales (0, -1)
    assert dense.scale_channels == (6, 6) and dense.scale_strides == (1, 4)
    fine, coarse = dense.flat_features().split([6, 6], dim=1)
    assert torch.allclose(fine.norm(dim=1), torch.full((len(fine),), 0.5**0.5), atol=1e-5)
    assert torch.allclose(coarse.norm(dim=1), torch.full((len(fine),), 0.5**0.5), atol=1e-5)
    # the upsampled coarse map is within a voxel or two of the fine one
    assert (fine * coarse).sum(dim=1).min() * 2 > 0.995


def test_sample_interpolates_between_cell_centres(tmp_path):
    volume = coordinate_volume(tmp_path, (16, 12, 20), affine_for(3))
    dense = extract_dense_features(CoordinateEncoder(), volume, scales=(0,), tile_vox=8)
    points = dense.grid_points_mm()[[0, 100, 1000]]
    assert torch.allclose(dense.sample(points), dense.flat_features()[[0, 100, 1000]], atol=1e-6)
    between = (volume.affine @ [3.5, 2.0, 7.25, 1.0])[None, :3]
    assert np.allclose(dense.sample(between).numpy(), fourier(between), atol=1e-4)
    assert np.allclose(dense.world_to_grid(between), [[3.5, 2.0, 7.25]], atol=1e-6)


def test_a_real_encoder_gives_unit_vectors_and_keeps_its_mode(phantom_eval_data):
    volume = phantom_eval_data.volumes[0]
    torch.manual_seed(0)
    encoder = create_encoder("test_resunet", spatial_dims=3, in_channels=1).train()
    dense = extract_dense_features(encoder, volume, grid_stride_vox=2, tile_vox=32, batch_size=4)
    assert dense.features.shape == (8 + 32, *(-(-n // 2) for n in volume.size_vox))
    norms = dense.flat_features().norm(dim=1)
    assert torch.isfinite(dense.features).all() and torch.allclose(norms, torch.ones_like(norms))
    assert encoder.training  # restored after the eval-mode pass


def test_pooled_crop_embeddings_match_forward_pooled_in_any_batch_size():
    torch.manual_seed(0)
    encoder = create_encoder("test_resunet", spatial_dims=2, in_channels=1).eval()
    crops = np.random.default_rng(0).random((5, 1, 16, 16)).astype(np.float32)
    embedded = pooled_crop_embeddings(encoder, crops, batch_size=2)
    with torch.no_grad():
        reference = encoder.forward_pooled(torch.from_numpy(crops))
    assert embedded.shape == (5, 32) and torch.allclose(embedded, reference, atol=1e-5)
    with pytest.raises(ValueError, match="channels"):
        pooled_crop_embeddings(encoder, np.zeros((2, 3, 16, 16), np.float32))


def test_bad_arguments_name_the_problem(tmp_path):
    volume = coordinate_volume(tmp_path, (16, 12, 20), affine_for(3))
    encoder = CoordinateEncoder()
    with pytest.raises(ValueError, match="spatial dims"):
        extract_dense_features(CoordinateEncoder(2), volume, tile_vox=8)
    with pytest.raises(ValueError, match="multiple of 4"):
        extract_dense_features(encoder, volume, tile_vox=10)
    with pytest.raises(ValueError, match="out of range"):
        extract_dense_features(encoder, volume, scales=(3,), tile_vox=8)
    with pytest.raises(ValueError, match="divide"):
        extract_dense_features(encoder, volume, grid_stride_vox=3, tile_vox=12)
    with pytest.raises(ValueError, match="channels"):
        one_channel = create_encoder("test_resunet", spatial_dims=3, in_channels=1)
        extract_dense_features(one_channel, volume, tile_vox=8)
