"""`ConditionalConvolution`: a convolution whose kernel is a per-sample mix of expert kernels,
weighted by the sample's anatomical location (DrasCLR's location-conditioned convolution)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional

_CONVOLUTIONS = {2: functional.conv2d, 3: functional.conv3d}


def _per_dim(value: int | Sequence[int], spatial_dims: int, name: str) -> tuple[int, ...]:
    values = (value,) * spatial_dims if isinstance(value, int) else tuple(value)
    if len(values) != spatial_dims:
        raise ValueError(f"{name} needs {spatial_dims} entries, got {value}")
    return values


class ConditionalConvolution(nn.Module):
    """A 2D or 3D convolution with `experts` kernels W_1..W_E mixed per sample by routing
    weights computed from the sample's location alone.

    For a sample at normalized location p in [-1, 1]^L the kernel is
    `sum_e r_e W_e` (and the bias `sum_e r_e b_e`) with `r = sigmoid(A p + b)`, one routing
    linear layer `(A, b)` per convolution. This is the location-conditioned convolution of
    DrasCLR (Yu et al., "DrasCLR: A Self-supervised Framework of Learning Disease-related and
    Anatomy-specific Representation for 3D Medical Images", arXiv 2302.10390), i.e. CondConv
    (Yang et al., "CondConv: Conditionally Parameterized Convolutions for Efficient Inference",
    NeurIPS 2019) routed by the location instead of the input.

    Batched: the B kernels are mixed in one matmul and applied in one grouped convolution
    (groups = B) over the input reshaped to `(1, B * C_in, *S)`; no loop over samples.

    Args:
        spatial_dims: 2 (`(B, C, H, W)` input) or 3 (`(B, C, D, H, W)`).
        in_channels: input channels C_in.
        out_channels: output channels C_out.
        kernel_size: as in `nn.Conv3d`, an int or one per spatial dimension.
        stride: as in `nn.Conv3d`.
        padding: zero padding in voxels, as in `nn.Conv3d`.
        bias: learn a bias (one per expert, mixed like the kernels).
        experts: number of expert kernels E (8 in DrasCLR).
        location_dims: length L of the location vector; defaults to `spatial_dims`.

    Attributes:
        weight: `(E, C_out, C_in, *kernel_size)`, each expert initialised like a plain conv.
        bias: `(E, C_out)` or None.
        routing: `nn.Linear(L, E)`, the (A, b) of the routing weights.
    """

    def __init__(
        self,
        spatial_dims: int,
        in_channels: int,
        out_channels: int,
        kernel_size: int | Sequence[int],
        stride: int | Sequence[int] = 1,
        padding: int | Sequence[int] = 0,
        bias: bool = True,
        experts: int = 8,
        location_dims: int | None = None,
    ) -> None:
        super().__init__()
        if spatial_dims not in _CONVOLUTIONS:
            raise ValueError(f"spatial_dims must be 2 or 3, got {spatial_dims}")
        if experts < 1:
            raise ValueError(f"experts must be at least 1, got {experts}")
        self.spatial_dims = spatial_dims
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = _per_dim(kernel_size, spatial_dims, "kernel_size")
        self.stride = _per_dim(stride, spatial_dims, "stride")
        self.padding = _per_dim(padding, spatial_dims, "padding")
        self.experts = experts
        self.location_dims = spatial_dims if location_dims is None else location_dims
        self.weight = nn.Parameter(
            torch.empty(experts, out_channels, in_channels, *self.kernel_size)
        )
        self.bias = nn.Parameter(torch.empty(experts, out_channels)) if bias else None
        self.routing = nn.Linear(self.location_dims, experts)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Each expert as `nn.Conv3d` initialises its kernel and bias (kaiming-uniform with
        a = sqrt(5), bias uniform in +-1/sqrt(fan_in)); the routing layer as `nn.Linear`."""
        for expert in range(self.experts):
            nn.init.kaiming_uniform_(self.weight[expert], a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.in_channels * math.prod(self.kernel_size)
            bound = 1 / math.sqrt(fan_in)
            nn.init.uniform_(self.bias, -bound, bound)
        self.routing.reset_parameters()

    def routing_weights(self, location: torch.Tensor) -> torch.Tensor:
        """`(B, L)` normalized locations -> `(B, E)` routing weights in (0, 1)."""
        if location.ndim != 2 or location.shape[1] != self.location_dims:
            raise ValueError(
                f"location must be (B, {self.location_dims}) normalized coordinates, "
                f"got shape {tuple(location.shape)}"
            )
        return torch.sigmoid(self.routing(location.to(self.routing.weight.dtype)))

    def forward(self, x: torch.Tensor, location: torch.Tensor) -> torch.Tensor:
        """`(B, C_in, *S)` images and `(B, L)` locations in [-1, 1] -> `(B, C_out, *S')`,
        with S' as `nn.Conv3d` gives for the same kernel, stride and padding."""
        if x.ndim != self.spatial_dims + 2 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"x must be (B, {self.in_channels}, *spatial) with {self.spatial_dims} spatial "
                f"dimensions, got shape {tuple(x.shape)}"
            )
        routing = self.routing_weights(location)  # (B, E)
        batch = x.shape[0]
        if routing.shape[0] != batch:
            raise ValueError(
                f"location has {routing.shape[0]} rows but x has {batch} samples; "
                "one location per sample"
            )
        # (B, E) @ (E, C_out * C_in * prod(k)) -> (B * C_out, C_in, *k): one kernel per sample
        kernels = (routing @ self.weight.flatten(1)).reshape(
            batch * self.out_channels, self.in_channels, *self.kernel_size
        )
        bias = None if self.bias is None else (routing @ self.bias).reshape(-1)  # (B * C_out,)
        # (B, C_in, *S) -> (1, B * C_in, *S): sample b is group b of the grouped convolution
        grouped = x.reshape(1, batch * self.in_channels, *x.shape[2:])
        out = _CONVOLUTIONS[self.spatial_dims](
            grouped, kernels, bias, stride=self.stride, padding=self.padding, groups=batch
        )  # (1, B * C_out, *S')
        return out.reshape(batch, self.out_channels, *out.shape[2:])

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}, padding={self.padding}, bias={self.bias is not None}, "
            f"experts={self.experts}, location_dims={self.location_dims}"
        )
