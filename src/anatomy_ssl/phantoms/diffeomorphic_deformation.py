"""Smooth diffeomorphic deformations: the exponential of a stationary velocity field.

A velocity field `v` defines the map `phi = exp(v)`, computed by scaling and squaring: start from
the small displacement `v / 2**K` and compose the map with itself K times. `exp(-v)` is its
inverse, so one field gives both directions:

- the backward map `phi^-1` warps images: the output voxel `x` samples the template at
  `phi^-1(x)`;
- the forward map `phi` carries template points to the subject: a landmark at template point `p`
  lands at `phi(p)`, which is where the warped image shows what the template had at `p`.

`map_points` solves `phi^-1(x) = p` against the very field that warps the images, so landmarks
and images agree to the solver's tolerance, not just to the integration error.

Reference: V. Arsigny et al., "A Log-Euclidean Framework for Statistics on Diffeomorphisms",
MICCAI 2006; J. Ashburner, "A fast diffeomorphic image registration algorithm", NeuroImage 2007.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

from anatomy_ssl.phantoms.corner_aligned_upsampling import upsample_corner_aligned


def sample_displacement(displacement: np.ndarray, coordinates: np.ndarray) -> np.ndarray:
    """Linearly interpolate a displacement field at continuous voxel positions.

    Args:
        displacement: `(3, X, Y, Z)` field, voxel units.
        coordinates: `(3, ...)` voxel positions; outside the grid the border value is used.

    Returns:
        `(3, ...)` float32 displacements at the positions.
    """
    return np.stack(
        [
            ndi.map_coordinates(component, coordinates, order=1, mode="nearest", output=np.float32)
            for component in displacement
        ]
    )


def identity_grid(size_vox: tuple[int, ...]) -> np.ndarray:
    """`(3, X, Y, Z)` float32 voxel coordinates of every voxel."""
    return np.indices(size_vox, dtype=np.float32)


def compose_displacements(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """Displacement of `outer ∘ inner`: `x -> x + inner(x) + outer(x + inner(x))`.

    Args:
        outer: `(3, X, Y, Z)` displacement applied second, voxel units.
        inner: `(3, X, Y, Z)` displacement applied first, voxel units.

    Returns:
        `(3, X, Y, Z)` float32 displacement of the composition.
    """
    positions = identity_grid(inner.shape[1:]) + inner
    return (inner + sample_displacement(outer, positions)).astype(np.float32)


def exponentiate_velocity(velocity_vox: np.ndarray, *, squaring_steps: int = 7) -> np.ndarray:
    """Displacement of `exp(v)` by scaling and squaring.

    Args:
        velocity_vox: `(3, X, Y, Z)` stationary velocity field, voxel units.
        squaring_steps: K; `v / 2**K` should move well under a voxel.

    Returns:
        `(3, X, Y, Z)` float32 displacement `exp(v)(x) - x`, voxel units.
    """
    displacement = (velocity_vox / 2.0**squaring_steps).astype(np.float32)
    for _ in range(squaring_steps):
        displacement = compose_displacements(displacement, displacement)
    return displacement


def jacobian_determinant(displacement: np.ndarray) -> np.ndarray:
    """Jacobian determinant of `x -> x + u(x)` by central differences.

    Args:
        displacement: `(3, X, Y, Z)` displacement `u`, voxel units.

    Returns:
        `(X, Y, Z)` float32 local volume change (> 0 everywhere for a diffeomorphism).
    """
    # jac[a][b] = d phi_a / d x_b, each (X, Y, Z)
    jac = [
        [g + (1.0 if a == b else 0.0) for b, g in enumerate(np.gradient(u))]
        for a, u in enumerate(displacement)
    ]
    det = (
        jac[0][0] * (jac[1][1] * jac[2][2] - jac[1][2] * jac[2][1])
        - jac[0][1] * (jac[1][0] * jac[2][2] - jac[1][2] * jac[2][0])
        + jac[0][2] * (jac[1][0] * jac[2][1] - jac[1][1] * jac[2][0])
    )
    return np.asarray(det, dtype=np.float32)


@dataclass(frozen=True, eq=False)
class DiffeomorphicDeformation:
    """A diffeomorphism `phi` of a voxel grid, held as forward and backward displacement fields.

    Attributes:
        forward_vox: `(3, X, Y, Z)` float32 `phi(x) - x`, voxel units.
        backward_vox: `(3, X, Y, Z)` float32 `phi^-1(x) - x`, voxel units.
    """

    forward_vox: np.ndarray
    backward_vox: np.ndarray

    @classmethod
    def from_velocity(
        cls,
        velocity_vox: np.ndarray,
        *,
        squaring_steps: int = 7,
        size_vox: tuple[int, int, int] | None = None,
    ) -> DiffeomorphicDeformation:
        """`phi = exp(v)` and `phi^-1 = exp(-v)`, optionally integrated on a coarser grid.

        A smooth velocity can be integrated on a coarse grid spanning the same field of view as
        the image grid (corner voxels aligned) and the two displacements upsampled linearly:
        same maps, a fraction of the work.

        Args:
            velocity_vox: `(3, x, y, z)` velocity on the integration grid, in voxels of that grid.
            squaring_steps: K of scaling and squaring.
            size_vox: the image grid `(X, Y, Z)` when it differs from the integration grid; its
                corner voxels coincide with those of the integration grid.

        Returns:
            The deformation on the image grid.
        """
        forward = exponentiate_velocity(velocity_vox, squaring_steps=squaring_steps)
        backward = exponentiate_velocity(-velocity_vox, squaring_steps=squaring_steps)
        coarse = velocity_vox.shape[1:]
        if size_vox is None or tuple(size_vox) == tuple(coarse):
            return cls(forward, backward)
        return cls(_upsample(forward, size_vox), _upsample(backward, size_vox))

    @property
    def size_vox(self) -> tuple[int, int, int]:
        x, y, z = self.forward_vox.shape[1:]
        return int(x), int(y), int(z)

    def warp(self, array: np.ndarray, *, order: int) -> np.ndarray:
        """Deform a template-space array: `out(x) = array(phi^-1(x))`.

        Args:
            array: `(X, Y, Z)` on the grid of this deformation.
            order: 1 (linear) for images, 0 (nearest) for label maps.

        Returns:
            `(X, Y, Z)` array of `array`'s dtype; outside the grid the border values continue.
        """
        if array.shape != self.size_vox:
            raise ValueError(f"array shape {array.shape} differs from the grid {self.size_vox}")
        positions = identity_grid(self.size_vox) + self.backward_vox
        return ndi.map_coordinates(array, positions, order=order, mode="nearest").astype(
            array.dtype, copy=False
        )

    def map_points(
        self, points_vox: np.ndarray, *, iterations: int = 50, tolerance_vox: float = 1e-4
    ) -> np.ndarray:
        """Carry template points to the subject: `p -> phi(p)`.

        Starts from the forward field and refines by fixed-point iteration `x <- p - u_b(x)`
        until `phi^-1(x) = p` holds for the backward field that `warp` uses.

        Args:
            points_vox: `(N, 3)` template points, continuous voxel indices.
            iterations: most refinement steps (each is one interpolation of N points).
            tolerance_vox: stop when every residual `|phi^-1(x) - p|` is below this.

        Returns:
            `(N, 3)` float64 subject points, voxel indices.
        """
        points = np.atleast_2d(np.asarray(points_vox, dtype=np.float64))  # (N, 3)
        mapped = points + _at_points(self.forward_vox, points)
        for _ in range(iterations):
            residual = mapped + _at_points(self.backward_vox, mapped) - points
            if np.abs(residual).max(initial=0.0) < tolerance_vox:
                break
            mapped = mapped - residual
        return mapped

    def map_points_inverse(self, points_vox: np.ndarray) -> np.ndarray:
        """Subject points back to the template: `x -> phi^-1(x)`; `(N, 3)` -> `(N, 3)` voxels."""
        points = np.atleast_2d(np.asarray(points_vox, dtype=np.float64))
        return points + _at_points(self.backward_vox, points)

    def jacobian_determinant(self) -> np.ndarray:
        """`(X, Y, Z)` Jacobian determinant of `phi` (> 0 everywhere: a diffeomorphism)."""
        return jacobian_determinant(self.forward_vox)


def _at_points(displacement: np.ndarray, points: np.ndarray) -> np.ndarray:
    """`(3, X, Y, Z)` field at `(N, 3)` voxel points -> `(N, 3)` float64."""
    return sample_displacement(displacement, points.T).T.astype(np.float64)


def _upsample(displacement: np.ndarray, size_vox: tuple[int, int, int]) -> np.ndarray:
    """Corner-aligned linear upsampling of a `(3, x, y, z)` displacement to `(3, X, Y, Z)`.

    Displacements are rescaled from coarse voxels to fine voxels along each axis.
    """
    coarse = np.asarray(displacement.shape[1:], dtype=np.float64)
    fine = np.asarray(size_vox, dtype=np.float64)
    voxel_ratio = (fine - 1.0) / np.maximum(coarse - 1.0, 1.0)  # fine voxels per coarse voxel
    rescaled = displacement * voxel_ratio.astype(np.float32)[:, None, None, None]
    return upsample_corner_aligned(rescaled, size_vox, order=1)
