"""Whole-volume segmentation by sliding-window inference, scored by Dice per structure.

Dice (Dice, "Measures of the amount of ecologic association between species", Ecology 1945)
per structure = `2 |P ∩ G| / (|P| + |G|)` over one volume, with MONAI's `DiceMetric`. Background
(label 0) is not scored. A structure absent from a volume's ground truth gets NaN (MONAI's
`ignore_empty`), whatever was predicted, and NaN is left out of every mean downstream.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import numpy as np
import torch
from monai.inferers import sliding_window_inference
from monai.metrics import DiceMetric
from torch import nn

from anatomy_ssl.preprocess import CachedVolume


def predict_label_map(
    network: nn.Module,
    image: np.ndarray,
    *,
    window_vox: Sequence[int],
    sw_batch_size: int = 4,
    overlap: float = 0.25,
    blend_mode: str = "gaussian",
    pad_value: float = 0.0,
    device: str | torch.device = "cpu",
    bf16: bool = False,
) -> np.ndarray:
    """Label map of a whole image from a network applied to overlapping windows.

    Args:
        network: `(B, C, *window)` -> `(B, num_classes, *window)` logits, already on `device`;
            run in eval mode (its previous mode is restored afterwards).
        image: `(C, *S)` image.
        window_vox: window size per spatial axis; must suit the network (e.g. a multiple of the
            encoder's `min_input_multiple`). Images smaller than the window are padded.
        sw_batch_size: windows per forward pass.
        overlap: fraction of overlap between neighbouring windows.
        blend_mode: "gaussian" (centre-weighted, as nnU-Net) or "constant" window blending.
        pad_value: image value used to pad beyond the border (the volume's background value).
        device: where to run.
        bf16: autocast the network to bfloat16 (GPUs).

    Returns:
        `(*S)` int64 label map (argmax over classes).
    """
    spatial = image.ndim - 1
    if len(window_vox) != spatial:
        raise ValueError(f"window {tuple(window_vox)} does not match a {spatial}D image")
    inputs = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32))[None].to(device)
    was_training = network.training
    network.eval()
    device_type = torch.device(device).type
    try:
        with (
            torch.inference_mode(),
            torch.autocast(device_type, dtype=torch.bfloat16, enabled=bf16),
        ):
            logits = sliding_window_inference(  # one tensor in, one out
                inputs,
                roi_size=tuple(int(w) for w in window_vox),
                sw_batch_size=sw_batch_size,
                predictor=network,
                overlap=overlap,
                mode=blend_mode,
                cval=pad_value,
            )  # (1, num_classes, *S)
        labels = cast(torch.Tensor, logits).argmax(dim=1)[0]  # (*S)
    finally:
        network.train(was_training)
    result: np.ndarray = labels.cpu().numpy()
    return result


def dice_per_structure(
    prediction: np.ndarray, label: np.ndarray, *, num_classes: int
) -> np.ndarray:
    """Dice of each foreground structure between two label maps of one volume.

    Args:
        prediction: `(*S)` integer label map.
        label: `(*S)` (or `(1, *S)`) ground-truth integer label map, values in
            `[0, num_classes)`.
        num_classes: classes including background (label 0).

    Returns:
        `(num_classes - 1,)` float64 Dice for labels 1..num_classes-1; NaN where the structure
        is absent from `label`.
    """
    if num_classes < 2:
        raise ValueError(f"need background and at least one structure, got {num_classes} classes")
    truth = np.asarray(label)
    if truth.ndim == prediction.ndim + 1 and truth.shape[0] == 1:
        truth = truth[0]
    if truth.shape != prediction.shape:
        raise ValueError(f"prediction {prediction.shape} and label {truth.shape} differ in shape")
    if truth.size and (truth.min() < 0 or truth.max() >= num_classes):
        raise ValueError(
            f"label values must lie in [0, {num_classes}); got {truth.min()}..{truth.max()}"
        )
    metric = DiceMetric(
        include_background=False, reduction="none", num_classes=num_classes, ignore_empty=True
    )
    y_pred = torch.as_tensor(np.asarray(prediction, dtype=np.int64))[None, None]  # (1, 1, *S)
    y = torch.as_tensor(truth.astype(np.int64))[None, None]  # (1, 1, *S)
    dice = cast(torch.Tensor, metric(y_pred=y_pred, y=y))  # (1, num_classes - 1)
    result: np.ndarray = dice[0].double().numpy()
    return result


def score_volumes(
    network: nn.Module,
    volumes: Sequence[CachedVolume],
    *,
    num_classes: int,
    window_vox: Sequence[int],
    sw_batch_size: int = 4,
    overlap: float = 0.25,
    blend_mode: str = "gaussian",
    device: str | torch.device = "cpu",
    bf16: bool = False,
) -> np.ndarray:
    """Dice per structure of `network` on each labeled volume (see `predict_label_map`).

    Args:
        network: segmentation network on `device`.
        volumes: labeled cache entries (each padded with its own background value).
        num_classes: classes including background.
        window_vox: sliding-window size per spatial axis.
        sw_batch_size: windows per forward pass.
        overlap: window overlap fraction.
        blend_mode: "gaussian" or "constant".
        device: where to run.
        bf16: bfloat16 autocast.

    Returns:
        `(V, num_classes - 1)` Dice; NaN for structures absent from a volume.
    """
    rows = []
    for volume in volumes:
        label = volume.load_label()
        if label is None:
            raise ValueError(f"{volume!r} has no label map to score against")
        prediction = predict_label_map(
            network,
            volume.load_image(),
            window_vox=window_vox,
            sw_batch_size=sw_batch_size,
            overlap=overlap,
            blend_mode=blend_mode,
            pad_value=volume.background_value,
            device=device,
            bf16=bf16,
        )
        rows.append(dice_per_structure(prediction, label, num_classes=num_classes))
    if not rows:
        return np.zeros((0, num_classes - 1))
    return np.stack(rows)  # (V, num_classes - 1)
