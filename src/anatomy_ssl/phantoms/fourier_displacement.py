"""Smooth random displacement fields as sums of low-frequency sinusoids: analytic, so they can be
evaluated exactly at any point (voxel grids and landmarks alike) and inverted at points."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Cap of the displacement's gradient bound (dimensionless).
MAX_GRADIENT = 0.4


@dataclass(frozen=True)
class FourierDisplacement:
    """u(p) = sum_m a_m * sin(k_m . p + phase_m), one sum per component.

    Attributes:
        amplitudes_mm: `(3, M)` amplitude of each mode per component.
        wavevectors: `(3, M, 3)` wave vectors in rad/mm.
        phases: `(3, M)` phases in rad.
    """

    amplitudes_mm: np.ndarray
    wavevectors: np.ndarray
    phases: np.ndarray

    @classmethod
    def random(
        cls,
        rng: np.random.Generator,
        *,
        amplitude_mm: float,
        wavelength_mm: tuple[float, float] = (150.0, 400.0),
        modes: int = 4,
    ) -> FourierDisplacement:
        """Random field with about `amplitude_mm` RMS displacement per component.

        Amplitudes are capped so that the gradient bound `max_gradient()` is at most
        `MAX_GRADIENT`: the Jacobian of x / scale + u(x) then stays invertible for habitus scales
        up to 1.2, and its point inverse converges by fixed-point iteration.
        """
        wavelengths = rng.uniform(*wavelength_mm, size=(3, modes))
        directions = rng.normal(size=(3, modes, 3))
        directions /= np.linalg.norm(directions, axis=-1, keepdims=True)
        wavevectors = directions * (2 * np.pi / wavelengths)[..., None]
        amplitudes = rng.normal(size=(3, modes)) * amplitude_mm * np.sqrt(2.0 / modes)
        field = cls(amplitudes, wavevectors, rng.uniform(0, 2 * np.pi, size=(3, modes)))
        bound = field.max_gradient()
        if bound > MAX_GRADIENT:
            field = cls(amplitudes * (MAX_GRADIENT / bound), wavevectors, field.phases)
        return field

    def max_gradient(self) -> float:
        """Upper bound of |du_c / dp| over components (dimensionless)."""
        return float(
            np.max(
                np.sum(
                    np.abs(self.amplitudes_mm) * np.linalg.norm(self.wavevectors, axis=-1), axis=1
                )
            )
        )

    def __call__(self, points: np.ndarray) -> np.ndarray:
        """Displacement `(..., 3)` mm at points `(..., 3)` mm."""
        points = np.asarray(points, dtype=np.float32)
        out = np.zeros(points.shape, dtype=np.float32)
        for component in range(3):
            for mode in range(self.amplitudes_mm.shape[1]):  # a few modes: each a full-array op
                k = self.wavevectors[component, mode].astype(np.float32)
                angle = points @ k + np.float32(self.phases[component, mode])
                out[..., component] += np.float32(self.amplitudes_mm[component, mode]) * np.sin(
                    angle
                )
        return out

    def on_grid(
        self, axes: tuple[np.ndarray, np.ndarray, np.ndarray]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Displacement components on the grid `axes[0] x axes[1] x axes[2]` (mm).

        Equals `self(grid)` on the meshgrid of the axes bit for bit (same float32 operations in
        the same order), but builds each phase from a 2D (x, y) plane plus a 1D z term instead
        of a `(..., 3)` point array, and writes three contiguous arrays.

        Args:
            axes: per axis, `(n_a,)` coordinates in mm.

        Returns:
            Three `(n_0, n_1, n_2)` float32 arrays: u_x, u_y, u_z.
        """
        x, y, z = (np.asarray(a).astype(np.float32) for a in axes)
        shape = (x.size, y.size, z.size)
        angle = np.empty(shape, dtype=np.float32)  # reused by every mode
        components = []
        for component in range(3):
            total = np.zeros(shape, dtype=np.float32)
            for mode in range(self.amplitudes_mm.shape[1]):
                k = self.wavevectors[component, mode].astype(np.float32)
                plane = x[:, None] * k[0] + y[None, :] * k[1]
                np.add(plane[:, :, None], (z * k[2])[None, None, :], out=angle)
                angle += np.float32(self.phases[component, mode])
                np.sin(angle, out=angle)
                angle *= np.float32(self.amplitudes_mm[component, mode])
                total += angle
            components.append(total)
        return components[0], components[1], components[2]

    def solve_points(
        self, targets: np.ndarray, transform_scale: np.ndarray, transform_offset: np.ndarray
    ) -> np.ndarray:
        """Points x with `(x - offset) / scale + u(x) = target`, by fixed-point iteration.

        This inverts the subject-to-template map used for rendering, so template landmarks land
        exactly (to float precision) where the rendered anatomy puts them.

        Args:
            targets: `(N, 3)` template points in mm.
            transform_scale: `(3,)` per-axis scale of the subject-to-template map.
            transform_offset: `(3,)` offset in mm.
        """
        targets = np.asarray(targets, dtype=np.float64)
        x = targets * transform_scale + transform_offset
        for _ in range(100):
            updated = (targets - self(x).astype(np.float64)) * transform_scale + transform_offset
            if np.max(np.abs(updated - x)) < 1e-5:
                return updated
            x = updated
        return x
