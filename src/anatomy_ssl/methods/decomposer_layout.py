"""The part views an Eden method asks the data pipeline for, from the run's config."""

from __future__ import annotations

from anatomy_ssl.anatomy import fitted_schedule
from anatomy_ssl.configs.pretrain_schema import PretrainConfig
from anatomy_ssl.data import PartViewLayout
from anatomy_ssl.errors import ConfigError
from anatomy_ssl.models import Encoder


def decomposer_layout(
    config: PretrainConfig,
    encoder: Encoder,
    *,
    views: int,
    local_crops: int = 0,
    local_crop_fraction: float = 0.5,
    sub_parts: bool = False,
) -> PartViewLayout:
    """Parts at `data.crop_size_vox` (resize) or at the data's spacing (native), scheduled
    over `optim.max_steps` by `decomposer.*`.

    Raises:
        ConfigError: a local crop or sub-part size the encoder cannot take (sizes must be
            multiples of its `min_input_multiple`).
    """
    spatial_dims = encoder.spatial_dims
    crop = config.data.crop_size_vox
    multiple = max(encoder.min_input_multiple, 1)
    local = max(round(crop * local_crop_fraction / multiple), 1) * multiple
    if sub_parts and (crop % (2 * multiple)):
        raise ConfigError(
            f"data.crop_size_vox={crop}: its halves (the sub-parts) must be multiples of "
            f"{multiple} for encoder {type(encoder).__name__}; use a multiple of {2 * multiple}"
        )
    decomposer = config.decomposer
    return PartViewLayout(
        size_vox=(crop,) * spatial_dims,
        schedule=fitted_schedule(
            decomposer.levels,
            config.optim.max_steps * config.optim.accumulate_grad_batches,
            fractions=decomposer.stage_fractions,
            min_stage_steps=decomposer.min_stage_steps,
        ),
        mode=decomposer.mode,
        views=views,
        jitter_fraction=decomposer.jitter_fraction,
        local_crops=local_crops,
        local_size_vox=(min(local, crop),) * spatial_dims if local_crops else None,
        sub_parts=sub_parts,
        scale=decomposer.scale,
        size_multiple=multiple * (2 if sub_parts else 1),
    )
