"""kNN label transfer: class fractions per cell, the vote, and a planted perfect representation."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from anatomy_ssl.evaluation.frozen_feature_head import deep_scales
from anatomy_ssl.evaluation.knn_label_transfer import (
    _cell_class_fractions,
    _upsample_argmax,
    _vote,
    grid_stride,
    knn_label_transfer,
)
from anatomy_ssl.models import Encoder, create_encoder
from anatomy_ssl.preprocess import CachedVolume
from anatomy_ssl.preprocess.cache_entry import write_entry

SHAPE = (16, 16, 16)
CLASSES = 4


class LabelReadingEncoder(Encoder):
    """A planted representation: its maps are the one-hot of the class the intensity encodes
    (0, 1/3, 2/3, 1), average-pooled (the deep maps at stride 4, the blocks of `_boxes`), plus
    `noise` from a fixed generator."""

    def __init__(self, noise: float = 0.0) -> None:
        super().__init__()
        self.spatial_dims, self.in_channels = 3, 1
        self.out_channels, self.strides = (CLASSES,) * 3, (2, 4, 4)
        self.min_input_multiple, self.config = 8, {"name": "planted"}
        self.noise = noise

    def forward_features(self, x: torch.Tensor) -> list[torch.Tensor]:
        classes = (x[:, 0] * (CLASSES - 1)).round().long().clamp(0, CLASSES - 1)
        one_hot = F.one_hot(classes, CLASSES).movedim(-1, 1).float()
        maps = [F.avg_pool3d(one_hot, stride) for stride in self.strides]
        generator = torch.Generator().manual_seed(0)
        return [m + self.noise * torch.randn(m.shape, generator=generator) for m in maps]


def _volume(root, name, label):
    image = (label / (CLASSES - 1)).astype(np.float32)[None]
    meta = {
        "key": name,
        "subject_id": name,
        "affine": np.eye(4).tolist(),
        "spacing_mm": [1.0, 1.0, 1.0],
        "size_vox": list(label.shape),
        "background_value": 0.0,
        "label_values": np.unique(label).tolist(),
    }
    folder = root / name
    assert write_entry(folder, root / ".staging", image=image, label=label[None], meta=meta)
    return CachedVolume(folder)


def _boxes(shift):
    """Three structures on 4-voxel blocks, moved by `shift` blocks per subject."""
    label = np.zeros(SHAPE, dtype=np.uint8)
    s = 4 * shift
    label[s : s + 8, 0:4, 0:8] = 1
    label[8:12, 8 - s : 16 - s, 4:12] = 2
    label[0:4, 12:16, 12:16] = 3
    return label


def test_class_fractions_match_a_count_per_block():
    rng = np.random.default_rng(0)
    label = rng.integers(0, 3, size=(5, 7, 6))  # not a multiple of the stride: partial cells
    fractions = _cell_class_fractions(label, 2, 3).numpy()  # (N, C)
    expected = []
    for i in range(0, 5, 2):
        for j in range(0, 7, 2):
            for k in range(0, 6, 2):
                block = label[i : i + 2, j : j + 2, k : k + 2]
                expected.append([(block == c).mean() for c in range(3)])
    np.testing.assert_allclose(fractions, np.array(expected), atol=1e-6)


def test_vote_is_the_mean_of_the_nearest_cells():
    generator = torch.Generator().manual_seed(0)
    reference = F.normalize(torch.randn(50, 8, generator=generator), dim=1)
    queries = F.normalize(torch.randn(7, 8, generator=generator), dim=1)
    votes = torch.rand(50, 3, generator=generator)
    result = _vote(queries, reference, votes, 5)
    for row, query in enumerate(queries):
        cosines = [float(query @ cell) for cell in reference]
        nearest = sorted(range(50), key=lambda index: -cosines[index])[:5]
        torch.testing.assert_close(result[row], votes[nearest].mean(dim=0))


def test_a_representation_that_knows_the_labels_transfers_them_exactly(tmp_path):
    train = [_volume(tmp_path, "a", _boxes(0))]
    test = [_volume(tmp_path, "b", _boxes(1)), _volume(tmp_path, "c", _boxes(0))]
    result = knn_label_transfer(
        LabelReadingEncoder(), train, test, num_classes=CLASSES, tile_vox=16, neighbours=1
    )
    assert result.dice_per_volume.shape == (2, CLASSES - 1)
    # every cell gets its own class; only box corners are rounded off by the upsampling
    assert result.dice_per_volume.min() > 0.8
    assert result.reference_cells == 4**3  # the stride-4 grid of the deep maps


def test_noise_in_the_representation_lowers_the_score_and_subsampling_is_seeded(tmp_path):
    train = [_volume(tmp_path, "a", _boxes(0))]
    test = [_volume(tmp_path, "b", _boxes(1))]
    noisy = LabelReadingEncoder(noise=2.0)
    runs = [
        knn_label_transfer(
            noisy, train, test, num_classes=CLASSES, tile_vox=16, max_reference_cells=40, seed=1
        )
        for _ in range(2)
    ]
    assert runs[0].reference_cells == 40
    np.testing.assert_array_equal(runs[0].dice_per_volume, runs[1].dice_per_volume)
    clean = knn_label_transfer(LabelReadingEncoder(), train, test, num_classes=CLASSES, tile_vox=16)
    assert np.nanmean(runs[0].dice_per_volume) < np.nanmean(clean.dice_per_volume) - 0.1


def test_upsampling_puts_faces_between_cells_and_rounds_convex_corners():
    grid = torch.zeros(2, 2, 2, 2)
    grid[0, 0], grid[1, 1] = 1.0, 1.0  # class 0 in the first slab of cells, class 1 in the second
    labels = _upsample_argmax(grid, 4, (8, 8, 7))
    assert labels.shape == (8, 8, 7)
    assert (labels[:4] == 0).all() and (labels[4:] == 1).all()  # a face: exactly between cells
    corner = torch.zeros(2, 2, 2, 2)
    corner[0] = 1.0
    corner[:, 0, 0, 0] = torch.tensor([0.0, 1.0])  # class 1 in one corner cell only
    labels = _upsample_argmax(corner, 4, (8, 8, 8))
    assert labels[1, 1, 1] == 1 and labels[3, 3, 3] == 0  # its outer corner voxel goes


def test_deep_scales_leave_out_the_finest_map():
    encoder = create_encoder("test_resunet", spatial_dims=3, in_channels=1)
    assert deep_scales(encoder) == tuple(range(1, len(encoder.strides)))
    with pytest.raises(ValueError, match="neighbours"):
        knn_label_transfer(encoder, [], [], num_classes=2, tile_vox=16, neighbours=0)


class _FlatLabelReader(Encoder):
    """2D twin of `LabelReadingEncoder`."""

    def __init__(self) -> None:
        super().__init__()
        self.spatial_dims, self.in_channels = 2, 1
        self.out_channels, self.strides = (CLASSES,) * 3, (2, 4, 4)
        self.min_input_multiple, self.config = 8, {"name": "planted2d"}

    def forward_features(self, x: torch.Tensor) -> list[torch.Tensor]:
        classes = (x[:, 0] * (CLASSES - 1)).round().long().clamp(0, CLASSES - 1)
        one_hot = F.one_hot(classes, CLASSES).movedim(-1, 1).float()
        return [F.avg_pool2d(one_hot, stride) for stride in self.strides]


def test_labels_transfer_in_2d(tmp_path):
    label = _boxes(0)[:, :, 6]  # a 16 x 16 slice with every structure
    image = (label / (CLASSES - 1)).astype(np.float32)[None]
    meta = {"key": "x", "subject_id": "x", "affine": np.eye(3).tolist(), "spacing_mm": [1.0, 1.0]}
    meta |= {"size_vox": [16, 16], "background_value": 0.0, "label_values": [0, 1, 2, 3]}
    write_entry(tmp_path / "x", tmp_path / ".staging", image=image, label=label[None], meta=meta)
    volume = CachedVolume(tmp_path / "x")
    result = knn_label_transfer(
        _FlatLabelReader(), [volume], [volume], num_classes=CLASSES, tile_vox=16, neighbours=1
    )
    assert result.dice_per_volume.shape == (1, CLASSES - 1)
    assert np.nanmin(result.dice_per_volume) > 0.7


def test_cells_are_at_least_four_voxels_wide():
    fine = create_encoder("test_resunet", spatial_dims=3, in_channels=1)  # strides (1, 2, 4)
    assert grid_stride(fine, deep_scales(fine)) == 4
    coarse = LabelReadingEncoder()
    coarse.strides = (2, 8, 16)
    assert grid_stride(coarse, (1, 2)) == 8
