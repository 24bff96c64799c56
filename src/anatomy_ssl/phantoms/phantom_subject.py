"""One synthetic subject in memory: image, label maps, landmarks and clinical variables."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True, eq=False)
class PhantomSubject:
    """A generated subject, in RAS voxel order (+i Right, +j Anterior, +k Superior).

    Attributes:
        subject_id: e.g. "phantom_0007".
        image: `(X, Y, Z)` float32 intensities (Hounsfield units for CT).
        affine: `(4, 4)` voxel-to-world matrix, RAS mm.
        label_maps: label-set name (e.g. "level0", "level1", "level2", "tissue") -> `(X, Y, Z)`
            uint8 label map on the image grid.
        landmarks_mm: landmark name -> (x, y, z) world position in RAS mm.
        clinical: variables for `clinical.csv` (numbers or short strings).
        disk_axcodes: orientation to write the files in (e.g. ("L", "P", "S")), so readers and
            reorientation are exercised; the in-memory arrays are always RAS.
    """

    subject_id: str
    image: np.ndarray
    affine: np.ndarray
    label_maps: dict[str, np.ndarray]
    landmarks_mm: dict[str, tuple[float, float, float]]
    clinical: dict[str, float | int | str] = field(default_factory=dict)
    disk_axcodes: tuple[str, str, str] = ("R", "A", "S")

    @property
    def spacing_mm(self) -> tuple[float, float, float]:
        x, y, z = np.linalg.norm(self.affine[:3, :3], axis=0)
        return float(x), float(y), float(z)

    def world_to_voxel(self, point_mm: tuple[float, float, float]) -> np.ndarray:
        """Continuous `(3,)` voxel index of a world point."""
        return (np.linalg.inv(self.affine) @ np.array([*point_mm, 1.0]))[:3]
