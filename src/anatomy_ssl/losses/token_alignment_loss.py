"""Alice's alignment loss: the student's aligned tokens match the target branch's aligned tokens
by the BYOL-style normalized squared error `2 - 2 cos`, averaged over tokens."""

from __future__ import annotations

import torch

from anatomy_ssl.losses.part_whole_losses import cosine_distance


def token_alignment_loss(
    student_aligned: torch.Tensor, target_aligned: torch.Tensor
) -> torch.Tensor:
    """Token-wise alignment loss of Alice's conditional anatomical feature alignment (Jiang et
    al., "Anatomical Invariance Modeling and Semantic Alignment for Self-supervised Learning in
    3D Medical Image Analysis", ICCV 2023), in BYOL's normalized form (Grill et al., "Bootstrap
    Your Own Latent", NeurIPS 2020)::

        L = 1 / (B N) * sum_{b, n} (2 - 2 cos(s[b, n], t[b, n]))
          = 1 / (B N) * sum_{b, n} || s[b, n] / ||s[b, n]|| - t[b, n] / ||t[b, n]|| ||^2

    in [0, 4], blind to each token's scale. The target is a constant: it is detached here, so no
    gradient reaches the target branch (the EMA teacher's side). The loss is computed in float32
    (float64 inputs stay float64), so bf16 autocast outputs give a float32 scalar.

    Args:
        student_aligned: `(B, N, D)` student tokens after the alignment block.
        target_aligned: `(B, N, D)` target tokens after the alignment block.

    Returns:
        Scalar loss.

    Raises:
        ValueError: unless both inputs have the same `(B, N, D)` shape.
    """
    if student_aligned.ndim != 3 or student_aligned.shape != target_aligned.shape:
        raise ValueError(
            f"student and target must have one (B, N, D) shape, got "
            f"{tuple(student_aligned.shape)} and {tuple(target_aligned.shape)}"
        )
    dtype = torch.promote_types(student_aligned.dtype, torch.float32)
    return cosine_distance(student_aligned.to(dtype), target_aligned.to(dtype))
