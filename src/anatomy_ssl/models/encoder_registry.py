"""`create_encoder(name, ...)`: the encoders a config string can name, with tiny `test_*` variants.

Measured on 2 CPU cores, forward + backward of a batch of 2 at 96^3 (1 channel): MONAI UNet
(4.8M parameters) ~1.6 s; ResNet-18 with MONAI's stride-1 stem ~13 s, with a stride-2 stem
~1.8 s; the Swin encoder (feature size 48) ~17 s; the whole SwinUNETR-48 ~68 s; the
`resunet_small` encoder alone ~0.35 s. Hence the stride-2 ResNet stems here and
`resunet_small` as the CPU default.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable
from typing import Any

from anatomy_ssl.errors import ConfigError
from anatomy_ssl.models.encoder import Encoder
from anatomy_ssl.models.intensity_histogram_encoder import IntensityHistogramEncoder
from anatomy_ssl.models.location_conditioned_encoder import LocationConditionedEncoder
from anatomy_ssl.models.residual_unet_encoder import ResidualUNetEncoder
from anatomy_ssl.models.resnet_encoder import ResNetEncoder
from anatomy_ssl.models.swin_encoder import SwinEncoder
from anatomy_ssl.models.vit_encoder import ViTEncoder

# name -> (encoder class, keyword arguments that differ from the class defaults). The classes'
# defaults are the entries with `{}`: a directly built encoder records that name in its config.
ENCODERS: dict[str, tuple[Callable[..., Encoder], dict[str, Any]]] = {
    # DrasCLR's location-conditioned encoders, called as encoder(x, location): the GPU size
    # (5 stages, 8 experts per convolution), the CPU size, and each one's plain-conv ablation
    # twin (same widths and depth, location accepted and ignored).
    "drasclr": (LocationConditionedEncoder, {}),
    "drasclr_plain": (LocationConditionedEncoder, {"conditional": False}),
    "drasclr_small": (LocationConditionedEncoder, {"channels": (16, 32, 64, 128)}),
    "drasclr_small_plain": (
        LocationConditionedEncoder,
        {"channels": (16, 32, 64, 128), "conditional": False},
    ),
    # A parameter-free control for patient-level probes: each patch's intensity histogram.
    "intensity_histogram": (IntensityHistogramEncoder, {}),
    "resnet10": (ResNetEncoder, {"layers": (1, 1, 1, 1)}),
    "resnet18": (ResNetEncoder, {}),
    "resnet34": (ResNetEncoder, {"layers": (3, 4, 6, 3)}),
    "resnet50": (ResNetEncoder, {"block": "bottleneck", "layers": (3, 4, 6, 3)}),
    # MONAI UNet widths (16, 32, 64, 128, 256); its bottom stage is stride 2 here, not 1.
    "resunet": (ResidualUNetEncoder, {}),
    # The CPU default of `anatomy-ssl pretrain`: four stages, ~1.2M parameters, no
    # full-resolution stage; a fraction of the cost of the encoders above (see module docstring).
    "resunet_small": (ResidualUNetEncoder, {"channels": (16, 32, 64, 128)}),
    "swin": (SwinEncoder, {}),  # the encoder of SwinUNETR with feature_size 48
    "vit_base": (ViTEncoder, {}),  # ViT-B/16
    "test_drasclr": (
        LocationConditionedEncoder,
        {"channels": (8, 16, 32), "first_stride": 1, "experts": 2},
    ),
    "test_resnet": (
        ResNetEncoder,
        {
            "layers": (1, 1, 1, 1),
            "block_inplanes": (4, 8, 16, 32),
            "conv1_t_size": 3,
            "no_max_pool": True,
        },
    ),
    # Strides (1, 2, 4): 8^3 crops still leave a 2^3 coarsest map.
    "test_resunet": (ResidualUNetEncoder, {"channels": (8, 16, 32), "first_stride": 1}),
    # feature_size 12: the smallest SwinUNETR accepts, so transfer tests can use it.
    "test_swin": (
        SwinEncoder,
        {"feature_size": 12, "depths": (1, 1, 1, 1), "num_heads": (1, 1, 2, 2)},
    ),
    "test_vit": (
        ViTEncoder,
        {
            "img_size": 32,
            "patch_size": 8,
            "hidden_size": 32,
            "mlp_dim": 64,
            "num_layers": 2,
            "num_heads": 2,
        },
    ),
}


def list_encoders() -> list[str]:
    """The registered encoder names, sorted."""
    return sorted(ENCODERS)


def create_encoder(
    name: str, spatial_dims: int = 3, in_channels: int = 1, **kwargs: Any
) -> Encoder:
    """Build the encoder registered as `name`.

    Args:
        name: one of `list_encoders()`.
        spatial_dims: 2 (`(B, C, H, W)` input) or 3 (`(B, C, D, H, W)`).
        in_channels: image channels C.
        **kwargs: constructor arguments overriding the registered ones (e.g. `conv1_t_stride=1`).

    Returns:
        The encoder, whose `config` is `{"name", "spatial_dims", "in_channels", **kwargs}`:
        `create_encoder(**encoder.config)` rebuilds the same architecture.

    Raises:
        ConfigError: (a ValueError) unknown name or keyword argument.
    """
    if name not in ENCODERS:
        close = difflib.get_close_matches(name, ENCODERS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(f"unknown encoder {name!r}{hint}; known: {', '.join(list_encoders())}")
    build, registered = ENCODERS[name]
    accepted = [
        parameter
        for parameter in inspect.signature(build).parameters
        if parameter not in ("spatial_dims", "in_channels")
    ]
    unknown = sorted(set(kwargs) - set(accepted))
    if unknown:
        raise ConfigError(
            f"encoder {name!r} got unknown argument(s) {unknown}; it accepts: {', '.join(accepted)}"
        )
    encoder = build(spatial_dims=spatial_dims, in_channels=in_channels, **{**registered, **kwargs})
    encoder.config = {
        "name": name,
        "spatial_dims": spatial_dims,
        "in_channels": in_channels,
        **kwargs,
    }
    return encoder
