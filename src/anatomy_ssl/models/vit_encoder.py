"""`ViTEncoder`: MONAI's Vision Transformer as a single-scale feature encoder."""

from __future__ import annotations

import torch
from monai.networks.nets import ViT
from torch.nn import functional

from anatomy_ssl.models.encoder import Encoder

DEFAULT_IMG_SIZE = {2: 224, 3: 96}


class ViTEncoder(Encoder):
    """Vision Transformer (Dosovitskiy et al., "An Image is Worth 16x16 Words", ICLR 2021) as
    implemented by `monai.networks.nets.ViT` (no class token), kept as the submodule `vit`.

    MONAI's blocks hold a cross-attention layer norm that self-attention never uses; it is
    kept (state-dict keys equal MONAI's) but frozen.

    `forward_features` returns one map: the final layer-normalized patch tokens reshaped to
    `(B, hidden_size, *S / patch_size)`; its stride is the patch size.

    MONAI's ViT sizes its learned position embedding for `img_size`. Inputs of another size
    (e.g. DINO's small local crops) get the embedding resampled (bilinear / trilinear) to
    their patch grid, as DINO does (Caron et al., ICCV 2021); at `img_size` it is used as is.

    Args:
        spatial_dims: 2 or 3.
        in_channels: image channels.
        img_size: side of the input the position embedding is laid out for (default 224 in
            2D, 96 in 3D).
        patch_size: patch side, voxels.
        hidden_size: token width.
        mlp_dim: hidden width of each block's MLP.
        num_layers: transformer blocks.
        num_heads: attention heads; must divide `hidden_size`.
        qkv_bias: learnable bias of the query, key and value projections.
    """

    def __init__(
        self,
        spatial_dims: int = 3,
        in_channels: int = 1,
        img_size: int | None = None,
        patch_size: int = 16,
        hidden_size: int = 768,
        mlp_dim: int = 3072,
        num_layers: int = 12,
        num_heads: int = 12,
        qkv_bias: bool = False,
    ) -> None:
        super().__init__()
        if spatial_dims not in (2, 3):
            raise ValueError(f"spatial_dims must be 2 or 3, got {spatial_dims}")
        size = DEFAULT_IMG_SIZE[spatial_dims] if img_size is None else img_size
        if size % patch_size:
            raise ValueError(f"img_size {size} must be a multiple of patch_size {patch_size}")
        self.vit = ViT(
            in_channels=in_channels,
            img_size=size,
            patch_size=patch_size,
            hidden_size=hidden_size,
            mlp_dim=mlp_dim,
            num_layers=num_layers,
            num_heads=num_heads,
            classification=False,
            spatial_dims=spatial_dims,
            qkv_bias=qkv_bias,
        )
        for block in self.vit.blocks:
            # MONAI builds this norm even without cross-attention; frozen, it cannot stall DDP
            # (unused trainable parameters), and the keys still match MONAI's ViT.
            block.norm_cross_attn.requires_grad_(False)
        self.grid = (size // patch_size,) * spatial_dims  # patch grid of the position embedding
        self.spatial_dims = spatial_dims
        self.in_channels = in_channels
        self.out_channels = (hidden_size,)
        self.strides = (patch_size,)
        self.min_input_multiple = patch_size
        self.config = {
            "name": "vit_base",
            "spatial_dims": spatial_dims,
            "in_channels": in_channels,
            "img_size": img_size,
            "patch_size": patch_size,
            "hidden_size": hidden_size,
            "mlp_dim": mlp_dim,
            "num_layers": num_layers,
            "num_heads": num_heads,
            "qkv_bias": qkv_bias,
        }

    def forward_features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """`(B, in_channels, *S)` -> `[(B, hidden_size, *S / patch_size)]`."""
        embedding = self.vit.patch_embedding
        patches = embedding.patch_embeddings(x)  # (B, hidden, *G)
        batch, hidden, *grid = patches.shape
        tokens = patches.flatten(2).transpose(1, 2)  # (B, N, hidden)
        tokens = embedding.dropout(tokens + self.position_embedding(tuple(grid)))
        for block in self.vit.blocks:
            tokens = block(tokens)
        tokens = self.vit.norm(tokens)  # (B, N, hidden)
        return [tokens.transpose(1, 2).reshape(batch, hidden, *grid)]

    def position_embedding(self, grid: tuple[int, ...]) -> torch.Tensor:
        """The position embedding `(1, N, hidden)` for a patch grid `grid` (`N = prod(grid)`)."""
        table = self.vit.patch_embedding.position_embeddings  # (1, N0, hidden)
        if grid == self.grid:
            return table
        hidden = table.shape[-1]
        laid_out = table.transpose(1, 2).reshape(1, hidden, *self.grid)  # (1, hidden, *G0)
        mode = "trilinear" if self.spatial_dims == 3 else "bilinear"
        resized = functional.interpolate(laid_out, size=grid, mode=mode, align_corners=False)
        return resized.flatten(2).transpose(1, 2)  # (1, N, hidden)
