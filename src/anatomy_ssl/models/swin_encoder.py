"""`SwinEncoder`: the Swin Transformer encoder of MONAI's SwinUNETR, weight-compatible with it."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from monai.networks.nets.swin_unetr import SwinTransformer

from anatomy_ssl.models.encoder import Encoder

PATCH_SIZE = 2  # SwinUNETR's patch size: maps at strides 2, 4, 8, 16, 32
DOWNSAMPLING = ("merging", "mergingv2")


class SwinEncoder(Encoder):
    """Swin Transformer (Liu et al., "Swin Transformer: Hierarchical Vision Transformer using
    Shifted Windows", ICCV 2021) as the encoder of SwinUNETR (Hatamizadeh et al., "Swin UNETR:
    Swin Transformers for Semantic Segmentation of Brain Tumors in MRI Images", BrainLes 2021;
    `use_v2`: SwinUNETR-V2, He et al., MICCAI 2023).

    `monai.networks.nets.swin_unetr.SwinTransformer` is built with the arguments SwinUNETR passes
    it and kept as the attribute `swinViT`, so the state dict equals SwinUNETR's `swinViT.*`
    entries and pretrained weights load into `SwinUNETR.swinViT` unchanged
    (`load_swin_encoder_into_swin_unetr`).

    `forward_features` returns the five layer-normalized hidden states SwinUNETR feeds its
    decoder: strides `(2, 4, 8, 16, 32)`, channels `feature_size * (1, 2, 4, 8, 16)`. Inputs
    must be divisible by 32 per axis.

    Args:
        spatial_dims: 2 or 3.
        in_channels: image channels.
        feature_size: embedding width of the first stage (SwinUNETR's `feature_size`; a
            multiple of 12 for SwinUNETR).
        depths: Swin blocks in each of the 4 stages.
        num_heads: attention heads in each stage; each must divide its stage's width.
        window_size: attention window side, tokens.
        qkv_bias: learnable bias of the query, key and value projections.
        dropout_path_rate: stochastic depth rate (SwinUNETR's `dropout_path_rate`).
        use_checkpoint: gradient checkpointing inside the Swin blocks (memory for compute).
        use_v2: SwinUNETR-V2's residual convolution block before each stage.
        downsample: patch merging, "merging" (v0.9 MONAI) or "mergingv2".
    """

    def __init__(
        self,
        spatial_dims: int = 3,
        in_channels: int = 1,
        feature_size: int = 48,
        depths: Sequence[int] = (2, 2, 2, 2),
        num_heads: Sequence[int] = (3, 6, 12, 24),
        window_size: int = 7,
        qkv_bias: bool = True,
        dropout_path_rate: float = 0.0,
        use_checkpoint: bool = False,
        use_v2: bool = False,
        downsample: str = "merging",
    ) -> None:
        super().__init__()
        if spatial_dims not in (2, 3):
            raise ValueError(f"spatial_dims must be 2 or 3, got {spatial_dims}")
        if len(depths) != 4 or len(num_heads) != 4:
            raise ValueError(
                f"depths and num_heads need 4 entries, got {list(depths)} and {list(num_heads)}"
            )
        if downsample not in DOWNSAMPLING:
            raise ValueError(f"downsample must be one of {DOWNSAMPLING}, got {downsample!r}")
        self.swinViT = SwinTransformer(  # the attribute name makes keys equal SwinUNETR's
            in_chans=in_channels,
            embed_dim=feature_size,
            window_size=(window_size,) * spatial_dims,
            patch_size=(PATCH_SIZE,) * spatial_dims,
            depths=tuple(depths),
            num_heads=tuple(num_heads),
            mlp_ratio=4.0,
            qkv_bias=qkv_bias,
            drop_rate=0.0,
            attn_drop_rate=0.0,
            drop_path_rate=dropout_path_rate,
            use_checkpoint=use_checkpoint,
            spatial_dims=spatial_dims,
            downsample=downsample,
            use_v2=use_v2,
        )
        self.spatial_dims = spatial_dims
        self.in_channels = in_channels
        self.out_channels = tuple(feature_size * 2**stage for stage in range(5))
        self.strides = tuple(PATCH_SIZE * 2**stage for stage in range(5))
        self.min_input_multiple = self.strides[-1]
        self.config = {
            "name": "swin",
            "spatial_dims": spatial_dims,
            "in_channels": in_channels,
            "feature_size": feature_size,
            "depths": tuple(depths),
            "num_heads": tuple(num_heads),
            "window_size": window_size,
            "qkv_bias": qkv_bias,
            "dropout_path_rate": dropout_path_rate,
            "use_checkpoint": use_checkpoint,
            "use_v2": use_v2,
            "downsample": downsample,
        }

    def forward_features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """`(B, in_channels, *S)` -> 5 maps `(B, feature_size * 2^i, *S / 2^(i+1))`."""
        return list(self.swinViT(x, normalize=True))
