"""Exact reorientation of 3D volumes to RAS by permuting and flipping axes (no interpolation)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from nibabel import orientations

from anatomy_ssl.io.volume import Volume


@dataclass(frozen=True)
class AxisReorientation:
    """A permutation + flip of spatial axes that brings a grid closest to RAS.

    Attributes:
        transform: nibabel orientation transform `(3, 2)`: (target axis, flip) per input axis.
        input_size_vox: spatial shape before reorientation.
    """

    transform: np.ndarray
    input_size_vox: tuple[int, ...]

    @classmethod
    def to_ras(cls, volume: Volume) -> AxisReorientation:
        """The reorientation that maps `volume`'s voxel axes onto (R, A, S)."""
        return cls.to_axcodes(volume, ("R", "A", "S"))

    @classmethod
    def to_axcodes(cls, volume: Volume, axcodes: tuple[str, str, str]) -> AxisReorientation:
        """The reorientation mapping `volume`'s voxel axes onto `axcodes`, e.g. ("L", "P", "S")."""
        current = orientations.io_orientation(volume.affine)
        target = orientations.axcodes2ornt(axcodes)
        return cls(orientations.ornt_transform(current, target), volume.size_vox)

    @property
    def is_identity(self) -> bool:
        return bool(
            np.array_equal(self.transform[:, 0], np.arange(3)) and np.all(self.transform[:, 1] == 1)
        )

    def apply(self, volume: Volume) -> Volume:
        """Reorient an image or label map on the same grid as the one this was computed from.

        Voxel values are moved, never interpolated; the world position of every voxel is kept.
        The result is a view (flips and transposes copy nothing); later steps copy once.
        """
        if volume.size_vox != self.input_size_vox:
            raise ValueError(
                f"reorientation computed for shape {self.input_size_vox}, got {volume.size_vox}"
            )
        if self.is_identity:
            return volume
        # apply_orientation works on the leading axes, so move channels last and back.
        moved = orientations.apply_orientation(np.moveaxis(volume.array, 0, -1), self.transform)
        array = np.moveaxis(moved, -1, 0)
        affine = volume.affine @ orientations.inv_ornt_aff(self.transform, self.input_size_vox)
        return volume.with_array(array, affine)
