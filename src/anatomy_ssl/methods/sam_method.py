"""SAM-style anatomical embedding (Yan et al., "SAM: Self-supervised Learning of Pixel-wise
Anatomical Embeddings in Radiological Images", IEEE TMI 2022), trained on the user's volumes.

Two overlapping, differently augmented crops of one volume; the geometry the stream carries says
which voxel of crop 2 is the same physical point as a voxel of crop 1. Anchor voxels drawn in
the overlap are pulled towards their match and pushed from every other candidate voxel (the other
anchors' matches and random voxels of crop 2, of this and of other volumes), by a pixel-level
InfoNCE on two maps of the encoder itself: the finest map (local appearance; hard negatives
only) and the coarsest (global context; every negative). Nothing but the encoder is trained, so
the exported encoder is the matcher: the correspondence protocol and the point matcher read
exactly these two maps, normalised per map, as SAM's fine and coarse embeddings.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from anatomy_ssl.configs.pretrain_schema import PretrainConfig
from anatomy_ssl.data import ViewGeometry, ViewGroup, sample_in_boxes
from anatomy_ssl.losses import correspondence_negative_mask, pixel_infonce_loss
from anatomy_ssl.methods.pretraining_method import PretrainingMethod
from anatomy_ssl.models import Encoder


class SAMMethod(PretrainingMethod):
    """Pixel-level contrast between matched voxels of two crops, on a fine and a coarse map."""

    flips_views = False  # a mirrored crop would make left and right organs one target

    def __init__(self, encoder: Encoder, config: PretrainConfig) -> None:
        super().__init__(encoder, config)
        options = config.sam
        count = len(encoder.strides)
        for name in ("fine_scale", "coarse_scale"):
            if not -count <= getattr(options, name) < count:
                raise ValueError(
                    f"sam.{name}={getattr(options, name)} does not index the encoder's "
                    f"{count} maps (strides {encoder.strides})"
                )
        self.scales = (options.fine_scale % count, options.coarse_scale % count)

    def view_groups(self) -> list[ViewGroup]:
        return [ViewGroup(count=2, size_vox=self.crop_size_vox)]

    def compute_loss(
        self, views: list[torch.Tensor], step: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        raise ValueError("sam needs the crops' geometry: it is trained through batch_loss")

    def batch_loss(
        self, views: list[torch.Tensor], batch: dict[str, Any], step: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        options = self.config.sam
        geometry = ViewGeometry.from_batch(batch, views)
        generator = self.step_generator(step)
        size = views[0].shape[0]
        low, high = geometry.overlap(0, 1)
        anchors = sample_in_boxes(low, high, options.points_per_sample, generator)  # (B, P, S)
        extent = torch.zeros_like(low)
        last = geometry.size_vox[1].expand_as(low) - 1
        extra = sample_in_boxes(extent, last, options.negatives_per_sample, generator)
        extra = geometry.to_volume(1, extra)  # (B, Q, S) random voxels of crop 2, volume voxels
        candidates = torch.cat([anchors, extra], dim=1)  # (B, P + Q, S)

        maps = self.encoder.forward_features(torch.cat(views[:2]))  # one pass, shared BN
        volume_ids = geometry.entry_index[:, None]
        mask = correspondence_negative_mask(
            geometry.to_mm(anchors).flatten(0, 1),
            volume_ids.expand(-1, anchors.shape[1]).flatten(),
            geometry.to_mm(candidates).flatten(0, 1),
            volume_ids.expand(-1, candidates.shape[1]).flatten(),
            radius_mm=options.exclusion_radius_vox * float(geometry.spacing_mm.max()),
        )  # (B P, B (P + Q))
        if not options.global_negatives:
            same = volume_ids.expand(-1, anchors.shape[1]).flatten()[:, None]
            mask &= same == volume_ids.expand(-1, candidates.shape[1]).flatten()[None, :]
        terms = []
        for scale, hard in zip(self.scales, (options.hard_negatives, None), strict=True):
            first, second = maps[scale][:size], maps[scale][size:]
            anchor = sample_map(first, geometry.to_view(0, anchors), geometry.size_vox[0])
            candidate = sample_map(second, geometry.to_view(1, candidates), geometry.size_vox[1])
            positive = candidate[:, : anchors.shape[1]]  # the anchors' own matches
            terms.append(
                pixel_infonce_loss(
                    anchor.flatten(0, 1),
                    positive.flatten(0, 1),
                    candidate.flatten(0, 1),
                    mask,
                    temperature=options.temperature,
                    hard_negatives=hard,
                )
            )
        self.log("train/fine_loss", terms[0], batch_size=size)
        self.log("train/coarse_loss", terms[1], batch_size=size)
        pooled = maps[-1][:size].flatten(2).mean(dim=2)  # (B, D)
        return (terms[0] + terms[1]) / 2, pooled


def sample_map(
    feature_map: torch.Tensor, view_vox: torch.Tensor, view_size: torch.Tensor
) -> torch.Tensor:
    """Features at voxels of the view a map was computed from, interpolated between cells.

    A map of stride s has its cell i at voxel `i * s + (s - 1) / 2` (block centres), which is
    `grid_sample` with `align_corners=False` over the view's extent, whatever the stride; voxels
    outside the outermost centres take the border cell's value (no fading to zero).

    Args:
        feature_map: `(B, C, *map_size)`.
        view_vox: `(B, N, S)` voxel indices in the view.
        view_size: `(S,)` the view's size in voxels.

    Returns:
        `(B, N, C)`.
    """
    normalised = (view_vox.float() + 0.5) / view_size.float() * 2 - 1  # (B, N, S) in [-1, 1]
    spatial = view_vox.shape[-1]
    grid = normalised.flip(-1).reshape(  # grid_sample wants (x, y[, z]) = reversed axes
        view_vox.shape[0], -1, *([1] * (spatial - 1)), spatial
    )
    values = F.grid_sample(
        feature_map, grid, mode="bilinear", padding_mode="border", align_corners=False
    )
    return values.reshape(*values.shape[:2], -1).transpose(1, 2)  # (B, N, C)
