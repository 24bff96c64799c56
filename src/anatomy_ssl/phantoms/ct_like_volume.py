"""A fast, simple CT-like torso volume: for smoke runs, tests and data-pipeline benchmarks.

Not the anatomical phantom (see docs/phantoms.md): just a body cylinder with a fat rim, two lungs, a
heart and a spine in plausible Hounsfield units with noise, built from broadcast coordinate grids
(no voxel loops), so a 512x512x300 volume takes a few seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Label values of `make_ct_like_volume`.
CT_LIKE_LABELS = {
    "background": 0,
    "body": 1,
    "left_lung": 2,
    "right_lung": 3,
    "heart": 4,
    "spine": 5,
}


@dataclass(frozen=True)
class CtLikeVolume:
    """A generated volume in RAS voxel order.

    Attributes:
        hu: `(X, Y, Z)` int16 Hounsfield units; +X points to the patient's Right (RAS).
        label: `(X, Y, Z)` uint8 labels (`CT_LIKE_LABELS`).
        affine: `(4, 4)` voxel-to-RAS-mm matrix (diagonal spacing, origin at the volume centre).
    """

    hu: np.ndarray
    label: np.ndarray
    affine: np.ndarray


def _ellipsoid(
    axes: tuple[np.ndarray, ...],
    center: tuple[float, float, float],
    radii: tuple[float, float, float],
) -> np.ndarray:
    x, y, z = axes
    return (
        ((x - center[0]) / radii[0]) ** 2
        + ((y - center[1]) / radii[1]) ** 2
        + ((z - center[2]) / radii[2]) ** 2
    ) <= 1.0


def make_ct_like_volume(
    size_vox: tuple[int, int, int] = (96, 96, 96),
    spacing_mm: tuple[float, float, float] = (1.5, 1.5, 1.5),
    *,
    seed: int = 0,
    noise_hu: float = 20.0,
) -> CtLikeVolume:
    """Generate a CT-like torso in a box of `size_vox` voxels of `spacing_mm`.

    Shapes scale with the field of view, so any size gives the same anatomy. Per-seed jitter of
    organ sizes and positions (about 10%) makes subjects differ.
    """
    rng = np.random.default_rng(seed)
    size = np.asarray(size_vox)
    extent = size * np.asarray(spacing_mm)  # field of view in mm
    # Normalized coordinates in [-1, 1] per axis, broadcastable: (X,1,1), (1,Y,1), (1,1,Z).
    axes = tuple(
        np.linspace(-1.0, 1.0, n, dtype=np.float32).reshape([-1 if a == i else 1 for a in range(3)])
        for i, n in enumerate(size)
    )
    x, y, z = axes
    jitter = 1.0 + 0.1 * rng.uniform(-1, 1, size=8)
    body = ((x / (0.9 * jitter[0])) ** 2 + (y / (0.7 * jitter[1])) ** 2 <= 1.0) & (
        np.abs(z) <= 0.95
    )
    inner = ((x / (0.82 * jitter[0])) ** 2 + (y / (0.62 * jitter[1])) ** 2 <= 1.0) & body
    lung_radii = (0.28 * jitter[2], 0.42 * jitter[3], 0.6 * jitter[4])
    right_lung = _ellipsoid(axes, (0.38, 0.0, 0.25), lung_radii) & inner  # patient right = +x
    left_lung = _ellipsoid(axes, (-0.38, 0.0, 0.25), lung_radii) & inner
    heart = _ellipsoid(axes, (-0.08, 0.22, 0.05), (0.25 * jitter[5], 0.22, 0.25)) & inner
    spine = (x**2 + ((y + 0.45) / 0.9) ** 2 <= (0.11 * jitter[6]) ** 2) & body

    label = np.zeros(tuple(size), dtype=np.uint8)
    hu = np.full(tuple(size), -1000.0, dtype=np.float32)
    for mask, value, name in (
        (body, -100.0, "body"),  # subcutaneous fat rim
        (inner, 40.0, "body"),  # soft tissue
        (left_lung, -850.0, "left_lung"),
        (right_lung, -850.0, "right_lung"),
        (heart, 50.0, "heart"),
        (spine, 600.0, "spine"),
    ):
        hu[mask] = value
        label[mask] = CT_LIKE_LABELS[name]
    hu += noise_hu * rng.standard_normal(hu.shape, dtype=np.float32)
    affine = np.diag([*spacing_mm, 1.0])
    affine[:3, 3] = -extent / 2.0
    return CtLikeVolume(hu=np.round(hu).astype(np.int16), label=label, affine=affine)
