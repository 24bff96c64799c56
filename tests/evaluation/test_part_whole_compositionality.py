import numpy as np
import pytest
import torch
import torch.nn.functional as F

from anatomy_ssl.evaluation.part_whole_compositionality import (
    evaluate_part_whole_compositionality,
    split_into_parts,
)
from anatomy_ssl.models import Encoder, create_encoder
from anatomy_ssl.preprocess import CachedVolume
from anatomy_ssl.preprocess.cache_entry import write_entry


class PointwiseLinearEncoder(Encoder):
    """Features `W x + b` of each voxel, average-pooled to each stride: the pooled embedding of
    a crop is `W mean(x) + b`, so the mean over equal parts equals the whole's exactly."""

    def __init__(self, spatial_dims: int = 3) -> None:
        super().__init__()
        self.spatial_dims, self.in_channels = spatial_dims, 1
        self.strides, self.out_channels, self.min_input_multiple = (1, 2), (3, 3), 2
        self.config = {"name": "pointwise"}
        self.register_buffer("weight", torch.tensor([1.0, -2.0, 0.5]))
        self.register_buffer("bias", torch.tensor([0.1, 0.3, -0.2]))

    def forward_features(self, x: torch.Tensor) -> list[torch.Tensor]:
        shape = (1, 3, *[1] * self.spatial_dims)
        values = x * self.weight.reshape(shape) + self.bias.reshape(shape)
        pool = F.avg_pool3d if self.spatial_dims == 3 else F.avg_pool2d
        return [values, pool(values, 2)]


SCALE = 100.0  # brings the variances near 1, where the cosine is most sensitive


class CropVarianceEncoder(Encoder):
    """Features `[SCALE (x - mean_crop(x))^2, 1]`: the pooled embedding of a crop is
    `[SCALE var, 1]`, so cos(whole, mean of parts) = `expected_cosine(whole, parts)`."""

    def __init__(self, spatial_dims: int = 3) -> None:
        super().__init__()
        self.spatial_dims, self.in_channels = spatial_dims, 1
        self.strides, self.out_channels, self.min_input_multiple = (1,), (2,), 4
        self.config = {"name": "crop_variance"}

    def forward_features(self, x: torch.Tensor) -> list[torch.Tensor]:
        axes = tuple(range(2, x.ndim))
        squared = (x.double() - x.double().mean(dim=axes, keepdim=True)) ** 2
        return [torch.cat([SCALE * squared, torch.ones_like(squared)], dim=1)]


class OffsetEncoder(Encoder):
    """Another encoder's features plus one constant: every embedding gains the same vector."""

    def __init__(self, inner: Encoder, offset: float) -> None:
        super().__init__()
        self.inner, self.offset = inner, offset
        self.spatial_dims, self.in_channels = inner.spatial_dims, inner.in_channels
        self.strides, self.out_channels = inner.strides, inner.out_channels
        self.min_input_multiple, self.config = inner.min_input_multiple, {"name": "offset"}

    def forward_features(self, x: torch.Tensor) -> list[torch.Tensor]:
        return [features + self.offset for features in self.inner.forward_features(x)]


def expected_cosine(whole: np.ndarray, parts: list[np.ndarray]) -> float:
    """(v_w v_p + 1) / sqrt((v_w^2 + 1)(v_p^2 + 1)), v_w = SCALE var(whole), v_p = SCALE
    mean(var(part))."""
    v_w, v_p = SCALE * whole.var(), SCALE * np.mean([part.var() for part in parts])
    return float((v_w * v_p + 1) / np.sqrt((v_w**2 + 1) * (v_p**2 + 1)))


def cache_entry(folder, subject_id, image, spacing=4.0) -> CachedVolume:
    dims = image.ndim - 1
    affine = np.diag([spacing] * dims + [1.0])
    meta = {
        "key": subject_id,
        "subject_id": subject_id,
        "split": None,
        "affine": affine.tolist(),
        "spacing_mm": [spacing] * dims,
        "size_vox": list(image.shape[1:]),
        "background_value": 0.0,
    }
    entry = folder / "entries" / subject_id
    write_entry(entry, folder / ".staging", image=image, label=None, meta=meta)
    return CachedVolume(entry)


@pytest.mark.parametrize("shape", [(2, 3, 4, 6), (2, 3, 8, 6, 4)])
def test_parts_are_the_equal_sub_boxes_in_c_order(shape):
    wholes = torch.arange(np.prod(shape), dtype=torch.float32).reshape(shape)
    parts = split_into_parts(wholes)
    dims = len(shape) - 2
    halves = [n // 2 for n in shape[2:]]
    assert parts.shape == (shape[0] * 2**dims, shape[1], *halves)
    for n in range(shape[0]):
        for p in range(2**dims):
            bits = [(p >> (dims - 1 - a)) & 1 for a in range(dims)]
            box = tuple(slice(b * h, (b + 1) * h) for b, h in zip(bits, halves, strict=True))
            assert torch.equal(parts[n * 2**dims + p], wholes[(n, slice(None), *box)])
    with pytest.raises(ValueError, match="even"):
        split_into_parts(torch.zeros(1, 1, 5, 4))


@pytest.mark.parametrize("part_resampling", [False, True])
def test_a_pointwise_linear_encoder_composes_exactly(phantom_eval_data, part_resampling):
    result = evaluate_part_whole_compositionality(
        PointwiseLinearEncoder(),
        phantom_eval_data.volumes[:3],
        whole_vox=8,
        wholes_per_volume=5,
        part_resampling=part_resampling,
    )
    assert result.cosines.shape == (15,) and result.part_embeddings.shape == (15, 8, 3)
    assert np.allclose(result.cosines, 1.0, atol=1e-6)
    metrics = result.metrics()
    assert metrics["part_whole_cosine_mean"] == pytest.approx(1.0, abs=1e-6)
    assert metrics["num_wholes"] == 15.0 and metrics["part_whole_cosine_std"] < 1e-6
    assert result.part_resampling is part_resampling


def test_the_crop_variance_oracle_gives_the_exact_cosine(phantom_eval_data):
    volumes = phantom_eval_data.volumes[:3]
    result = evaluate_part_whole_compositionality(
        CropVarianceEncoder(), volumes, whole_vox=(8, 16, 24), wholes_per_volume=4, seed=3
    )
    assert np.array_equal(result.whole_size_vox, np.tile([8, 16, 24], (12, 1)))
    expected = []
    for subject, start in zip(result.subject_index, result.whole_start_vox, strict=True):
        volume = volumes[subject]
        assert np.all(start >= 0) and np.all(start + np.array([8, 16, 24]) <= volume.size_vox)
        centre = tuple(start + np.array([4, 8, 12]))
        assert volume.load_image()[(0, *centre)] > volume.background_value  # foreground centre
        whole = volume.crops(start[None], (8, 16, 24)).image[0, 0].astype(np.float64)
        parts = [
            whole[a * 4 : a * 4 + 4, b * 8 : b * 8 + 8, c * 12 : c * 12 + 12]
            for a in (0, 1)
            for b in (0, 1)
            for c in (0, 1)
        ]
        expected.append(expected_cosine(whole, parts))
    assert np.allclose(result.cosines, expected, atol=1e-6)
    assert result.cosines.min() < 0.99  # the oracle is not trivial  # the oracle is not trivial


def test_2d_wholes_around_landmarks(tmp_path):
    rng = np.random.default_rng(0)
    image = rng.random((1, 40, 30)).astype(np.float32) + 0.5
    volume = cache_entry(tmp_path, "xray", image)
    landmarks = {"xray": {"a": np.array([8.0, 8.0]), "b": np.array([80.0, 60.0])}}
    result = evaluate_part_whole_compositionality(
        CropVarianceEncoder(2), [volume], whole_mm=64.0, landmarks=landmarks
    )
    # 64 mm / 4 mm = 16 voxels; the box around (2, 2) is shifted inward to start at 0
    assert np.array_equal(result.whole_start_vox, [[0, 0], [12, 7]])
    assert result.part_embeddings.shape == (2, 4, 2)
    for start, cosine in zip(result.whole_start_vox, result.cosines, strict=True):
        whole = image[0, start[0] : start[0] + 16, start[1] : start[1] + 16].astype(np.float64)
        parts = [whole[a : a + 8, b : b + 8] for a in (0, 8) for b in (0, 8)]
        assert cosine == pytest.approx(expected_cosine(whole, parts), abs=1e-6)
    capped = evaluate_part_whole_compositionality(
        CropVarianceEncoder(2), [volume], whole_vox=16, landmarks=landmarks, wholes_per_volume=1
    )
    assert len(capped.cosines) == 1


def test_a_real_encoder_runs(phantom_eval_data):
    torch.manual_seed(0)
    encoder = create_encoder("test_resunet", spatial_dims=3, in_channels=1)
    result = evaluate_part_whole_compositionality(
        encoder,
        phantom_eval_data.volumes[:2],
        whole_vox=16,
        wholes_per_volume=3,
        landmarks=phantom_eval_data.landmarks,
        part_resampling=True,
    )
    assert result.whole_embeddings.shape == (6, 32) and result.part_embeddings.shape == (6, 8, 32)
    assert np.all(np.abs(result.cosines) <= 1.0 + 1e-6)
    assert all(np.isfinite(list(result.metrics().values())))


def test_bad_inputs_name_the_problem(tmp_path, phantom_eval_data):
    volume = phantom_eval_data.volumes[0]
    encoder = PointwiseLinearEncoder()
    with pytest.raises(ValueError, match="exactly one of whole_vox and whole_mm"):
        evaluate_part_whole_compositionality(encoder, [volume])
    with pytest.raises(ValueError, match="multiple"):
        evaluate_part_whole_compositionality(encoder, [volume], whole_vox=6)
    with pytest.raises(ValueError, match="does not fit"):
        evaluate_part_whole_compositionality(encoder, [volume], whole_vox=64)
    with pytest.raises(ValueError, match="spatial dims"):
        evaluate_part_whole_compositionality(PointwiseLinearEncoder(2), [volume], whole_vox=8)
    with pytest.raises(ValueError, match="outside the volume"):
        far = {volume.subject_id: {"x": np.array([0.0, 0.0, 5000.0])}}
        evaluate_part_whole_compositionality(encoder, [volume], whole_vox=8, landmarks=far)
    empty = cache_entry(tmp_path, "empty", np.zeros((1, 12, 12, 12), np.float32))
    with pytest.raises(ValueError, match="no foreground"):
        evaluate_part_whole_compositionality(encoder, [empty], whole_vox=8)


def test_centring_removes_the_shared_direction_that_makes_any_encoder_look_compositional(
    phantom_eval_data,
):
    # a constant offset on every embedding makes raw cosines ~1 for any encoder; the centred
    # score and the specificity do not move, because the offset is the mean they subtract
    volumes = phantom_eval_data.volumes[:3]
    plain = evaluate_part_whole_compositionality(
        CropVarianceEncoder(), volumes, whole_vox=8, wholes_per_volume=4, seed=1
    )
    shifted = evaluate_part_whole_compositionality(
        OffsetEncoder(CropVarianceEncoder(), 50.0),
        volumes,
        whole_vox=8,
        wholes_per_volume=4,
        seed=1,
    )
    assert shifted.cosines.min() > 0.999 > plain.cosines.min()
    np.testing.assert_allclose(shifted.centred_cosines, plain.centred_cosines, atol=1e-4)
    np.testing.assert_allclose(shifted.specificity, plain.specificity, atol=1e-4)


def test_the_other_whole_score_pairs_each_whole_with_the_next_wholes_parts(phantom_eval_data):
    result = evaluate_part_whole_compositionality(
        CropVarianceEncoder(), phantom_eval_data.volumes[:2], whole_vox=8, wholes_per_volume=3
    )
    width = result.whole_embeddings.shape[1]
    every = np.concatenate([result.whole_embeddings, result.part_embeddings.reshape(-1, width)])
    every = every.astype(np.float64)
    mean = every.mean(axis=0)
    wholes = result.whole_embeddings - mean
    aggregates = result.part_embeddings.mean(axis=1) - mean
    for n in range(len(wholes)):
        other = aggregates[(n + 1) % len(wholes)]
        expected = wholes[n] @ other / (np.linalg.norm(wholes[n]) * np.linalg.norm(other))
        assert result.other_whole_cosines[n] == pytest.approx(expected, abs=1e-6)
    metrics = result.metrics()
    assert metrics["part_whole_specificity_mean"] == pytest.approx(
        metrics["part_whole_centred_cosine_mean"] - metrics["other_whole_centred_cosine_mean"]
    )
