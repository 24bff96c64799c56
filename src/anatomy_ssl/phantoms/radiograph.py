"""One synthetic radiograph in memory: image, projected label maps and landmarks."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from anatomy_ssl.io.volume import Volume


@dataclass(frozen=True, eq=False)
class Radiograph:
    """A digitally reconstructed radiograph (see `project_radiograph`), PA chest display.

    Attributes:
        subject_id: the subject it was projected from.
        image: `(1, H, W)` float32 display intensity in [0, 1]: the optical depth (log
            attenuation) divided by `white_level`, clipped; bright = more attenuation.
        affine: `(3, 3)` matrix mapping `(row, col, 1)` to image-plane `(u, v, 1)` mm, with
            `u = -x` (RAS; towards the patient's Left, across) and `v = -z` (towards the feet,
            down); see `radiograph_geometry`.
        label_maps: label-set name -> `(H, W)` uint8 projected labels (`label_draw_order`).
        landmarks_px: landmark name -> continuous `(row, col)` pixel position of its projection.
        white_level: optical depth shown as 1.0.
        source_to_detector_mm: distance of the point source for a perspective projection, or
            None for a parallel one.
    """

    subject_id: str
    image: np.ndarray
    affine: np.ndarray
    label_maps: dict[str, np.ndarray] = field(default_factory=dict)
    landmarks_px: dict[str, tuple[float, float]] = field(default_factory=dict)
    white_level: float = 1.0
    source_to_detector_mm: float | None = None

    @property
    def shape(self) -> tuple[int, int]:
        """`(rows, cols)` in pixels."""
        return int(self.image.shape[1]), int(self.image.shape[2])

    def landmarks_mm(self) -> dict[str, tuple[float, float]]:
        """Landmark name -> `(u, v)` image-plane position, mm (the affine applied)."""
        result = {}
        for name, (row, col) in self.landmarks_px.items():
            u, v, _ = self.affine @ np.array([row, col, 1.0])
            result[name] = (float(u), float(v))
        return result

    def to_volume(self) -> Volume:
        """The image as a 2D Volume `(1, H, W)` with its `(3, 3)` affine."""
        return Volume(array=self.image, affine=self.affine)

    def label_volume(self, name: str) -> Volume:
        """One projected label map as a 2D Volume `(1, H, W)` uint8."""
        return Volume(array=self.label_maps[name][None], affine=self.affine)
