"""The Volume contract: an array with its voxel-to-world geometry and where it came from."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np


@dataclass(frozen=True, eq=False)
class Volume:
    """An image or label map with its geometry.

    Attributes:
        array: `(C, D, H, W)` in 3D or `(C, H, W)` in 2D. The spatial axes are in the order of the
            affine's voxel indices (i, j, k). After reorientation to RAS (see `preprocess/`),
            +i points to the patient's Right, +j Anterior, +k Superior. Label maps hold integers;
            images hold floats or the file's native numeric type.
        affine: `(S + 1, S + 1)` matrix (S = number of spatial axes) mapping voxel indices to
            world coordinates in millimetres in the RAS+ convention (nibabel's: +x = Right,
            +y = Anterior, +z = Superior; DICOM/ITK's LPS is converted on reading).
            For 2D images the world plane is the image plane (x across, y down the image).
        source: path of the file or folder it was read from ("" when made in memory).
        metadata: reader-specific facts (format, series UID, original dtype, ...); JSON-ready.
    """

    array: np.ndarray
    affine: np.ndarray
    source: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        spatial = self.array.ndim - 1
        if spatial not in (2, 3):
            raise ValueError(
                f"Volume array must be (C, H, W) or (C, D, H, W); got shape {self.array.shape}"
            )
        if self.affine.shape != (spatial + 1, spatial + 1):
            raise ValueError(
                f"affine must be {(spatial + 1, spatial + 1)} for a {spatial}D volume; "
                f"got {self.affine.shape}"
            )

    @property
    def spatial_dims(self) -> int:
        """Number of spatial axes: 2 or 3."""
        return self.array.ndim - 1

    @property
    def num_channels(self) -> int:
        return int(self.array.shape[0])

    @property
    def size_vox(self) -> tuple[int, ...]:
        """Spatial shape in voxels, in array order."""
        return tuple(int(s) for s in self.array.shape[1:])

    @property
    def spacing_mm(self) -> tuple[float, ...]:
        """Voxel size along each array axis in millimetres (norms of the affine's columns)."""
        linear = self.affine[: self.spatial_dims, : self.spatial_dims]
        return tuple(float(s) for s in np.linalg.norm(linear, axis=0))

    def with_array(self, array: np.ndarray, affine: np.ndarray | None = None) -> Volume:
        """A copy with a new array (and optionally a new affine); source and metadata are kept."""
        return replace(self, array=array, affine=self.affine if affine is None else affine)

    def voxel_to_world(self, indices: np.ndarray) -> np.ndarray:
        """Map `(N, S)` voxel indices (integer or continuous) to `(N, S)` world points (RAS mm)."""
        points = np.atleast_2d(np.asarray(indices, dtype=float))
        dims = self.spatial_dims
        return points @ self.affine[:dims, :dims].T + self.affine[:dims, dims]
