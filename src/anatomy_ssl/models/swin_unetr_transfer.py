"""Carry a pretrained `SwinEncoder` into MONAI's SwinUNETR for fine-tuning."""

from __future__ import annotations

from monai.networks.nets import SwinUNETR

from anatomy_ssl.models.encoder_state_loading import load_state_strictly
from anatomy_ssl.models.swin_encoder import SwinEncoder


def load_swin_encoder_into_swin_unetr(encoder: SwinEncoder, network: SwinUNETR) -> list[str]:
    """Copy `encoder`'s weights into `network.swinViT` (SwinUNETR, Hatamizadeh et al. 2021).

    The network must be built with the encoder's `in_channels`, `feature_size`, `depths`,
    `num_heads`, `spatial_dims`, `use_v2` and `downsample`; its decoder stays as initialized.

    Args:
        encoder: the pretrained encoder.
        network: a `monai.networks.nets.SwinUNETR`.

    Returns:
        The loaded keys, as named in `network.state_dict()` (`swinViT.*`).

    Raises:
        ValueError: the Swin transformers differ (missing, unexpected or shape-mismatched keys,
            named in the message).
    """
    loaded = load_state_strictly(network.swinViT, encoder.swinViT.state_dict())
    return [f"swinViT.{key}" for key in loaded]
