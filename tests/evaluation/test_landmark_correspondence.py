import numpy as np
import pytest
import torch

from anatomy_ssl.correspondence import EmbeddingMatcher, RegistrationMatcher
from anatomy_ssl.evaluation.landmark_correspondence import (
    evaluate_landmark_correspondence,
    evaluate_matcher_correspondence,
    landmark_points,
)
from anatomy_ssl.models import Encoder, create_encoder
from anatomy_ssl.preprocess import CachedVolume
from support.coordinate_volumes import CoordinateEncoder, coordinate_volume


class ConstantEncoder(Encoder):
    """The same feature vector everywhere: no information about position at all."""

    def __init__(self, spatial_dims: int = 3) -> None:
        super().__init__()
        self.spatial_dims, self.in_channels = spatial_dims, 1
        self.strides, self.out_channels, self.min_input_multiple = (1, 2), (3, 3), 2
        self.config = {"name": "constant"}

    def forward_features(self, x: torch.Tensor) -> list[torch.Tensor]:
        return [x.new_ones(len(x), 3, *(n // s for n in x.shape[2:])) for s in self.strides]


def affine_for(dims: int, shift_vox=(0, 0, 0)) -> np.ndarray:
    affine = np.diag([*[6.0, 5.0, 4.0][:dims], 1.0])
    affine[:dims, dims] = [-100.0, 40.0, -250.0][:dims]
    affine[:dims, dims] += affine[:dims, :dims] @ np.asarray(shift_vox[:dims], dtype=float)
    return affine


def nearest_voxel_distance(volume: CachedVolume, points_mm: np.ndarray) -> np.ndarray:
    nearest = np.rint(volume.world_to_voxel(points_mm))
    dims = volume.spatial_dims
    return np.linalg.norm(
        nearest @ volume.affine[:dims, :dims].T + volume.affine[:dims, dims] - points_mm, axis=1
    )


@pytest.mark.parametrize("dims", [2, 3])
def test_same_volume_and_a_shifted_copy_match_to_the_nearest_voxel(tmp_path, dims):
    size = (20, 16, 24)[:dims]
    query = coordinate_volume(tmp_path, size, affine_for(dims), "query")
    same = coordinate_volume(tmp_path, size, affine_for(dims), "same")
    # the copy starts (3, 2, 5) voxels further along: the same world points, other voxel indices
    shifted_size = tuple(n - s for n, s in zip(size, (3, 2, 5), strict=False))
    shifted = coordinate_volume(tmp_path, shifted_size, affine_for(dims, (3, 2, 5)), "shifted")
    rng = np.random.default_rng(0)
    voxels = rng.uniform(np.array((3, 2, 5)[:dims]) + 0.5, np.array(size) - 1.5, (12, dims))
    points = voxels @ query.affine[:dims, :dims].T + query.affine[:dims, dims]
    landmarks = {f"l{i}": p for i, p in enumerate(points)}
    volumes = [query, same, shifted]
    result = evaluate_landmark_correspondence(
        CoordinateEncoder(dims),
        volumes,
        {v.subject_id: landmarks for v in volumes},
        scales=(0,),
        tile_vox=12,
    )
    assert len(result.errors_mm) == 6 * 12 and result.metrics()["num_pairs"] == 6
    # the best cell is exactly the target voxel nearest to the true point
    for target, volume in enumerate(volumes):
        rows = result.target_index == target
        expected = nearest_voxel_distance(volume, result.true_mm[rows])
        assert np.allclose(result.errors_mm[rows], expected, atol=0.05)
    half_diagonal = 0.5 * np.linalg.norm([6.0, 5.0, 4.0][:dims])
    assert result.errors_mm.max() <= half_diagonal + 1e-6
    assert result.metrics()["within_5mm"] == pytest.approx(np.mean(result.errors_mm <= 5))
    assert result.metrics()["chance_mean_error_mm"] > 10 * result.metrics()["mean_error_mm"]
    # fine + coarse (upsampled) still lands within a voxel or so
    both = evaluate_landmark_correspondence(
        CoordinateEncoder(dims), volumes, {v.subject_id: landmarks for v in volumes}, tile_vox=12
    )
    assert both.metrics()["median_error_mm"] <= half_diagonal + 1e-6
    assert both.errors_mm.max() <= 2.5 * half_diagonal


def test_a_constant_encoder_scores_like_a_random_voxel(phantom_eval_data):
    volumes = phantom_eval_data.volumes[:4]
    result = evaluate_landmark_correspondence(
        ConstantEncoder(),
        volumes,
        phantom_eval_data.landmarks,
        grid_stride_vox=2,
        tile_vox=32,
        seed=1,
    )
    metrics = result.metrics()
    assert metrics["num_matches"] == 12 * 25
    # ties are broken uniformly at random: the error of a random cell of the target
    assert metrics["mean_error_mm"] == pytest.approx(metrics["chance_mean_error_mm"], rel=0.1)
    assert metrics["median_error_mm"] > 100 and metrics["within_20mm"] < 0.02
    assert len(np.unique(result.predicted_mm, axis=0)) > 0.9 * len(result.predicted_mm)


def test_a_real_encoder_runs_and_reports_every_landmark(phantom_eval_data):
    torch.manual_seed(0)
    encoder = create_encoder("test_resunet", spatial_dims=3, in_channels=1)
    volumes = phantom_eval_data.volumes[:2]
    result = evaluate_landmark_correspondence(
        encoder,
        volumes,
        phantom_eval_data.landmarks,
        radii_mm=(6.0, 12.5),
        grid_stride_vox=2,
        tile_vox=32,
        batch_size=4,
    )
    metrics = result.metrics()
    assert set(metrics) == {
        "median_error_mm",
        "mean_error_mm",
        "within_6mm",
        "within_12.5mm",
        "chance_mean_error_mm",
        "num_matches",
        "num_pairs",
        "acceptance_rate",
    }
    assert all(np.isfinite(list(metrics.values())))
    assert result.errors_mm.shape == (50,) and result.predicted_mm.shape == (50, 3)
    per_landmark = result.per_landmark_median_error_mm()
    assert set(per_landmark) == set(phantom_eval_data.landmarks[volumes[0].subject_id])
    assert result.subject_ids == tuple(v.subject_id for v in volumes)


def test_a_real_2d_encoder_runs(tmp_path):
    volumes = [coordinate_volume(tmp_path, (24, 20), affine_for(2), f"s{i}") for i in range(2)]
    points = {"a": np.array([-80.0, 60.0]), "b": np.array([-20.0, 100.0])}
    torch.manual_seed(0)
    encoder = create_encoder("test_resunet", spatial_dims=2, in_channels=3)
    result = evaluate_landmark_correspondence(
        encoder, volumes, {v.subject_id: points for v in volumes}, tile_vox=16
    )
    assert result.predicted_mm.shape == (4, 2)
    assert all(np.isfinite(list(result.metrics().values())))


def test_bad_landmarks_and_inputs_name_the_problem(tmp_path):
    a = coordinate_volume(tmp_path, (8, 8, 8), affine_for(3), "a")
    b = coordinate_volume(tmp_path, (8, 8, 8), affine_for(3), "b")
    inside = (a.affine @ [4.0, 4.0, 4.0, 1.0])[:3]
    outside = (a.affine @ [4.0, 9.0, 4.0, 1.0])[:3]
    good = {"a": {"x": inside}, "b": {"x": inside}}
    encoder = CoordinateEncoder()
    with pytest.raises(ValueError, match=r"'b'.*outside the volume.*y"):
        evaluate_landmark_correspondence(encoder, [a, b], {**good, "b": {"y": outside}})
    with pytest.raises(ValueError, match=r"'a'.*empty"):
        evaluate_landmark_correspondence(encoder, [a, b], {**good, "a": {}})
    with pytest.raises(ValueError, match="expected 3 coordinates"):
        evaluate_landmark_correspondence(encoder, [a, b], {**good, "a": {"x": inside[:2]}})
    with pytest.raises(ValueError, match="spatial dims"):
        evaluate_landmark_correspondence(CoordinateEncoder(2), [a, b], good, tile_vox=8)
    with pytest.raises(ValueError, match="at least two"):
        evaluate_landmark_correspondence(encoder, [a], good)
    with pytest.raises(ValueError, match="no landmarks for subject"):
        evaluate_landmark_correspondence(encoder, [a, b], {"a": good["a"]})
    with pytest.raises(ValueError, match="shared"):
        evaluate_landmark_correspondence(
            encoder, [a, b], {"a": {"x": inside}, "b": {"y": inside}}, tile_vox=8
        )
    names, points = landmark_points(a, {"z": inside, "x": inside})
    assert names == ("x", "z") and points.shape == (2, 3)


def test_affine_registration_matches_phantom_landmarks_far_better_than_chance(phantom_eval_data):
    volumes = phantom_eval_data.volumes[:3]
    matcher = RegistrationMatcher()
    result = evaluate_matcher_correspondence(matcher, volumes, phantom_eval_data.landmarks)
    metrics = result.metrics()
    assert metrics["num_matches"] == 6 * 25 and metrics["acceptance_rate"] == 1.0
    assert metrics["median_error_mm"] < 0.25 * metrics["chance_mean_error_mm"]
    assert matcher.failures == []


def test_refused_matches_leave_the_errors_and_lower_the_acceptance_rate(phantom_eval_data):
    volumes = phantom_eval_data.volumes[:2]
    accepting = EmbeddingMatcher(ConstantEncoder(), tile_vox=32, threshold=0.5)
    result = evaluate_matcher_correspondence(accepting, volumes, phantom_eval_data.landmarks)
    assert result.refused == 0 and result.metrics()["acceptance_rate"] == 1.0
    refusing = EmbeddingMatcher(ConstantEncoder(), tile_vox=32, threshold=1.5)
    with pytest.raises(ValueError, match="refused all 50"):
        evaluate_matcher_correspondence(refusing, volumes, phantom_eval_data.landmarks)
