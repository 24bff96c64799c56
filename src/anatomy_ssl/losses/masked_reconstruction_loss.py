"""Reconstruction error on the masked voxels only, as in masked image modeling."""

from __future__ import annotations

from typing import Literal

import torch


def masked_reconstruction_loss(
    prediction: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor,
    norm: Literal["l2", "l1"] = "l2",
) -> torch.Tensor:
    """Mean reconstruction error over masked voxels (SimMIM: Xie et al., "SimMIM: a Simple
    Framework for Masked Image Modeling", CVPR 2022, eq. 1; MAE: He et al., "Masked Autoencoders
    Are Scalable Vision Learners", CVPR 2022).

    With `M` the set of masked voxels and `C` channels::

        L = 1 / (|M| C) * sum_{v in M} sum_c |y_hat[c, v] - y[c, v]|^p,   p = 2 ("l2") or 1 ("l1")

    Unmasked voxels (visible to the encoder) do not contribute.

    Args:
        prediction: `(B, C, *S)` reconstruction.
        target: `(B, C, *S)` original image (no gradient flows into it).
        mask: `(B, 1, *S)` bool, True where the input was masked; broadcast over channels.
        norm: "l2" (mean squared error) or "l1" (mean absolute error).

    Returns:
        Scalar loss.

    Raises:
        ValueError: on mismatched shapes, an unknown `norm`, or a mask with no masked voxel.
    """
    if prediction.shape != target.shape:
        raise ValueError(
            f"prediction {tuple(prediction.shape)} and target {tuple(target.shape)} differ"
        )
    expected_mask = (prediction.shape[0], 1, *prediction.shape[2:])
    if mask.dtype != torch.bool or tuple(mask.shape) != expected_mask:
        raise ValueError(
            f"mask must be bool of shape {expected_mask}, got {mask.dtype} {tuple(mask.shape)}"
        )
    if norm not in ("l2", "l1"):
        raise ValueError(f"norm must be 'l2' or 'l1', got {norm!r}")
    masked_voxels = mask.sum()
    if not bool(masked_voxels > 0):
        raise ValueError("mask selects no voxel: the masked reconstruction loss is undefined")
    difference = prediction - target.detach()  # (B, C, *S)
    error = difference.square() if norm == "l2" else difference.abs()
    masked_error = torch.where(mask, error, torch.zeros_like(error))  # mask broadcast over C
    return masked_error.sum() / (masked_voxels * prediction.shape[1])
