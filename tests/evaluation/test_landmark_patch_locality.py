import numpy as np
import pytest
import torch

from anatomy_ssl.evaluation.landmark_patch_locality import (
    evaluate_landmark_patch_locality,
    leave_one_subject_out_knn,
)
from anatomy_ssl.models import Encoder, create_encoder
from anatomy_ssl.preprocess import CachedVolume
from support.coordinate_volumes import CoordinateEncoder, coordinate_volume


class ConstantEncoder(Encoder):
    def __init__(self, spatial_dims: int = 3, in_channels: int = 1) -> None:
        super().__init__()
        self.spatial_dims, self.in_channels = spatial_dims, in_channels
        self.strides, self.out_channels, self.min_input_multiple = (2,), (4,), 2
        self.config = {"name": "constant"}

    def forward_features(self, x: torch.Tensor) -> list[torch.Tensor]:
        return [x.new_ones(len(x), 4, *(n // 2 for n in x.shape[2:]))]


def coordinate_copy(folder, volume: CachedVolume) -> CachedVolume:
    """A cache entry with `volume`'s geometry whose channels are world mm + an inside mask."""
    return coordinate_volume(
        folder, volume.size_vox, volume.affine, volume.subject_id, list(volume.spacing_mm)
    )


@pytest.fixture(scope="module")
def coordinate_phantoms(phantom_eval_data, tmp_path_factory):
    folder = tmp_path_factory.mktemp("coordinates")
    return [coordinate_copy(folder, volume) for volume in phantom_eval_data.volumes]


def test_position_embeddings_separate_the_landmarks_across_subjects(
    phantom_eval_data, coordinate_phantoms
):
    result = evaluate_landmark_patch_locality(
        CoordinateEncoder(), coordinate_phantoms, phantom_eval_data.landmarks, patch_mm=40.0
    )
    # landmarks vary by ~5 mm per axis between subjects, and lie >= 24 mm apart
    assert result.knn_accuracy >= 0.9 and result.silhouette > 0.5
    assert result.embeddings.shape == (6 * 25, 6) and len(result.labels) == 150
    assert np.array_equal(result.patch_size_vox, np.full((6, 3), 8))  # 40 mm / 6 mm -> 2 x 4
    assert np.array_equal(np.bincount(result.subject_index), np.full(6, 25))
    assert result.metrics() == {
        "knn_accuracy": result.knn_accuracy,
        "silhouette": result.silhouette,
        "num_patches": 150.0,
        "num_landmarks": 25.0,
    }
    assert set(result.per_landmark_accuracy()) == set(result.landmark_names)


def test_a_constant_encoder_scores_chance(phantom_eval_data):
    result = evaluate_landmark_patch_locality(
        ConstantEncoder(), phantom_eval_data.volumes, phantom_eval_data.landmarks, patch_vox=8
    )
    assert result.knn_accuracy < 0.15  # chance: 1 / 25
    assert result.silhouette == pytest.approx(0.0, abs=1e-6)
    assert len(np.unique(result.predicted_index)) > 10  # random tie-breaking, not one label


def test_a_real_encoder_runs(phantom_eval_data):
    torch.manual_seed(0)
    encoder = create_encoder("test_resunet", spatial_dims=3, in_channels=1)
    result = evaluate_landmark_patch_locality(
        encoder,
        phantom_eval_data.volumes[:3],
        phantom_eval_data.landmarks,
        patch_vox=8,
        k=3,
        batch_size=32,
    )
    assert result.embeddings.shape == (75, 32) and np.isfinite(result.embeddings).all()
    assert 0.0 <= result.knn_accuracy <= 1.0 and -1.0 <= result.silhouette <= 1.0


def test_2d_landmarks_are_recognised_in_other_subjects(tmp_path):
    # three 2D "subjects": the same grid, landmarks jittered by ~2 mm around fixed positions
    rng = np.random.default_rng(0)
    base = {f"l{i}": np.array([-60.0 + 25.0 * (i % 4), 30.0 + 30.0 * (i // 4)]) for i in range(8)}
    volumes, landmarks = [], {}
    for subject in range(3):
        affine = np.array([[4.0, 0, -80.0], [0, 4.0, 10.0], [0, 0, 1]])
        volume = coordinate_copy(tmp_path, _Geometry(f"s{subject}", (40, 32), affine))
        volumes.append(volume)
        landmarks[volume.subject_id] = {n: p + rng.normal(0, 2.0, 2) for n, p in base.items()}
    result = evaluate_landmark_patch_locality(
        CoordinateEncoder(2), volumes, landmarks, patch_vox=(8, 4), k=2
    )
    assert result.knn_accuracy == 1.0 and result.silhouette > 0.5
    assert result.embeddings.shape == (24, 4)
    torch.manual_seed(0)
    real = create_encoder("test_resunet", spatial_dims=2, in_channels=3)
    smoke = evaluate_landmark_patch_locality(real, volumes, landmarks, patch_mm=30.0)
    assert smoke.embeddings.shape == (24, 32) and np.array_equal(smoke.patch_size_vox, [[8, 8]] * 3)


class _Geometry:
    """Just what `coordinate_copy` reads from a volume."""

    def __init__(self, subject_id, size_vox, affine):
        self.subject_id, self.size_vox, self.affine = subject_id, size_vox, affine
        self.spatial_dims = len(size_vox)
        self.spacing_mm = tuple(np.abs(np.diag(affine)[:-1]))


def test_knn_votes_only_among_other_subjects_and_breaks_ties_by_the_nearest():
    embeddings = np.array(
        [
            [1.0, 0.0],  # subject 0, label 0
            [0.99, 0.14],  # subject 0, label 1: nearest to row 0, but the same subject
            [0.9, 0.44],  # subject 1, label 0
            [0.0, 1.0],  # subject 1, label 1
            [0.6, 0.8],  # subject 2, label 1
        ]
    )
    labels = np.array([0, 1, 0, 1, 1])
    groups = np.array([0, 0, 1, 1, 2])
    rng = np.random.default_rng(0)
    predicted = leave_one_subject_out_knn(embeddings, labels, groups, k=1, rng=rng)
    assert predicted[0] == 0  # row 1 (same subject) is not a neighbour; row 2 is
    assert predicted[1] == 0
    # k=2 for row 0: rows 2 (label 0) and 4 (label 1) tie 1-1; the nearer (row 2) wins
    predicted = leave_one_subject_out_knn(embeddings, labels, groups, k=2, rng=rng)
    assert predicted[0] == 0
    assert predicted[3] == 1  # rows 4 (label 1) and 1 (label 1) among subjects 0 and 2


def test_bad_inputs_name_the_problem(phantom_eval_data):
    volumes, landmarks = phantom_eval_data.volumes[:2], phantom_eval_data.landmarks
    encoder = ConstantEncoder()
    with pytest.raises(ValueError, match="exactly one of patch_vox and patch_mm"):
        evaluate_landmark_patch_locality(encoder, volumes, landmarks)
    with pytest.raises(ValueError, match="min_input_multiple 2"):
        evaluate_landmark_patch_locality(encoder, volumes, landmarks, patch_vox=7)
    with pytest.raises(ValueError, match="at least two subjects"):
        evaluate_landmark_patch_locality(encoder, volumes[:1], landmarks, patch_vox=8)
    one_name = {v.subject_id: {"carina": landmarks[v.subject_id]["carina"]} for v in volumes}
    with pytest.raises(ValueError, match="two landmark names"):
        evaluate_landmark_patch_locality(encoder, volumes, one_name, patch_vox=8)
    far = {**landmarks, volumes[1].subject_id: {"carina": np.array([0.0, 0.0, 900.0])}}
    with pytest.raises(ValueError, match="outside the volume"):
        evaluate_landmark_patch_locality(encoder, volumes, far, patch_vox=8)
    with pytest.raises(ValueError, match="spatial dims"):
        evaluate_landmark_patch_locality(ConstantEncoder(2), volumes, landmarks, patch_vox=8)
