"""Encoders (one contract, 2D or 3D: ResNet, residual U-Net, Swin, ViT, built from MONAI; DrasCLR's
location-conditioned encoder and its `ConditionalConvolution`), the `create_encoder` registry with
tiny `test_*` variants, projection / DINO heads, a U-Net decoder, a segmentation network, Alice's
cross-attention alignment block, and strict weight loading (also into MONAI's SwinUNETR).
Training-time helpers of a network: `ema_update` (EMA teachers) and `learning_rate_schedule`."""

from __future__ import annotations

from anatomy_ssl.models.conditional_convolution import ConditionalConvolution
from anatomy_ssl.models.cross_attention_alignment import CrossAttentionAlignment, feature_map_tokens
from anatomy_ssl.models.dino_head import DINOHead
from anatomy_ssl.models.encoder import Encoder
from anatomy_ssl.models.encoder_registry import create_encoder, list_encoders
from anatomy_ssl.models.encoder_state_loading import load_encoder_state, load_state_strictly
from anatomy_ssl.models.intensity_histogram_encoder import IntensityHistogramEncoder
from anatomy_ssl.models.location_conditioned_encoder import LocationConditionedEncoder
from anatomy_ssl.models.projection_head import ProjectionHead
from anatomy_ssl.models.residual_unet_encoder import ResidualUNetEncoder
from anatomy_ssl.models.resnet_encoder import ResNetEncoder
from anatomy_ssl.models.segmentation_network import SegmentationNetwork
from anatomy_ssl.models.swin_encoder import SwinEncoder
from anatomy_ssl.models.swin_unetr_transfer import load_swin_encoder_into_swin_unetr
from anatomy_ssl.models.unet_decoder import UNetDecoder
from anatomy_ssl.models.vit_encoder import ViTEncoder

__all__ = [
    "ConditionalConvolution",
    "CrossAttentionAlignment",
    "DINOHead",
    "Encoder",
    "IntensityHistogramEncoder",
    "LocationConditionedEncoder",
    "ProjectionHead",
    "ResNetEncoder",
    "ResidualUNetEncoder",
    "SegmentationNetwork",
    "SwinEncoder",
    "UNetDecoder",
    "ViTEncoder",
    "create_encoder",
    "feature_map_tokens",
    "list_encoders",
    "load_encoder_state",
    "load_state_strictly",
    "load_swin_encoder_into_swin_unetr",
]
