import math

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional

from anatomy_ssl.evaluation.segmentation_scoring import (
    dice_per_structure,
    predict_label_map,
    score_volumes,
)
from anatomy_ssl.preprocess import CachedVolume
from anatomy_ssl.preprocess.cache_entry import write_entry


class _LabelAsImage(nn.Module):
    """Logits of the label map carried in the image channel: a perfect predictor (or, with
    `background_only`, one that always says background)."""

    def __init__(self, num_classes: int, *, background_only: bool = False) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.background_only = background_only
        self.calls: list[tuple[int, ...]] = []
        self.seen_min = math.inf

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls.append(tuple(x.shape))
        self.seen_min = min(self.seen_min, float(x.min()))
        classes = torch.zeros_like(x[:, 0]) if self.background_only else x[:, 0].round()
        one_hot = functional.one_hot(
            classes.long().clamp(0, self.num_classes - 1), self.num_classes
        )
        return 10.0 * torch.movedim(one_hot, -1, 1).float()  # (B, K, *window)


def _entry(root, subject_id, label, image=None, background=0.0):
    image = label.astype(np.float32) if image is None else image
    dims = label.ndim - 1
    meta = {
        "key": subject_id,
        "subject_id": subject_id,
        "affine": np.eye(dims + 1).tolist(),
        "spacing_mm": [1.0] * dims,
        "size_vox": list(label.shape[1:]),
        "background_value": background,
        "label_values": np.unique(label).tolist(),
    }
    folder = root / "entries" / subject_id
    assert write_entry(folder, root / ".staging", image=image, label=label, meta=meta)
    return CachedVolume(folder)


def test_a_perfect_predictor_scores_1_and_background_only_0_on_the_phantom(
    phantom_eval_data, tmp_path
):
    source = phantom_eval_data.volumes[0]
    volume = _entry(tmp_path, "perfect", source.load_label())
    num_classes = max(source.meta["label_values"]) + 1
    perfect = _LabelAsImage(num_classes)
    dice = score_volumes(perfect, [volume], num_classes=num_classes, window_vox=(24, 16, 32))
    assert dice.shape == (1, num_classes - 1)
    np.testing.assert_allclose(dice, 1.0)
    assert all(shape[2:] == (24, 16, 32) for shape in perfect.calls)  # really windowed
    background = _LabelAsImage(num_classes, background_only=True)
    np.testing.assert_allclose(
        score_volumes(background, [volume], num_classes=num_classes, window_vox=(32, 32, 32)),
        0.0,
    )


def test_dice_per_structure_against_hand_counts_with_absent_structures_nan():
    label = np.zeros((6, 5), dtype=np.uint8)
    label[0:2, 0:2] = 1  # 4 voxels
    label[3:6, 3:5] = 2  # 6 voxels; structure 3 absent
    prediction = np.zeros((6, 5), dtype=np.int64)
    prediction[0:2, 0:1] = 1  # 2 of 4 found
    prediction[3:6, 2:5] = 2  # 6 found, 3 extra
    prediction[5, 0] = 3  # predicted but absent from the truth
    dice = dice_per_structure(prediction, label[None], num_classes=4)
    assert dice[0] == pytest.approx(2 * 2 / (4 + 2))
    assert dice[1] == pytest.approx(2 * 6 / (6 + 9))
    assert math.isnan(dice[2])


def test_dice_rejects_out_of_range_labels_and_mismatched_shapes():
    with pytest.raises(ValueError, match="label values must lie in"):
        dice_per_structure(np.zeros((4, 4), int), np.full((4, 4), 5), num_classes=3)
    with pytest.raises(ValueError, match="differ in shape"):
        dice_per_structure(np.zeros((4, 4), int), np.zeros((4, 5), int), num_classes=3)
    with pytest.raises(ValueError, match="at least one structure"):
        dice_per_structure(np.zeros((4, 4), int), np.zeros((4, 4), int), num_classes=1)


def test_2d_prediction_pads_small_images_with_the_background_value(tmp_path):
    label = np.zeros((1, 10, 13), dtype=np.uint8)
    label[0, 2:6, 3:9] = 1
    label[0, 7:9, 9:12] = 2
    image = np.where(label > 0, label, 7).astype(np.float32)  # background voxels read as "7"
    volume = _entry(tmp_path, "flat", label, image=image, background=-3.0)
    network = _LabelAsImage(8)
    prediction = predict_label_map(
        network, volume.load_image(), window_vox=(16, 16), pad_value=volume.background_value
    )
    assert prediction.shape == (10, 13) and prediction.dtype == np.int64
    np.testing.assert_array_equal(prediction, image[0])  # padding cropped away again
    assert all(shape[2:] == (16, 16) for shape in network.calls)
    assert network.seen_min == -3.0  # the window beyond the image was the background value
    perfect = score_volumes(
        _LabelAsImage(3), [_entry(tmp_path, "b", label)], num_classes=3, window_vox=(8, 8)
    )
    np.testing.assert_allclose(perfect, 1.0)


def test_prediction_restores_the_network_mode_and_checks_the_window():
    network = _LabelAsImage(2).train()
    predict_label_map(network, np.zeros((1, 8, 8, 8), np.float32), window_vox=(8, 8, 8))
    assert network.training
    with pytest.raises(ValueError, match="does not match a 3D image"):
        predict_label_map(network, np.zeros((1, 8, 8, 8), np.float32), window_vox=(8, 8))
