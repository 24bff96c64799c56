"""Random stationary velocity fields: a smooth local part plus a small global (affine) part."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from anatomy_ssl.phantoms.corner_aligned_upsampling import upsample_corner_aligned


@dataclass(frozen=True, eq=False)
class VelocityFieldParameters:
    """A velocity field in world units, `v(x) = s(x) + L (x - c)` (mm per unit time).

    Its exponential is a smooth local deformation composed with the affine map
    `x -> c + expm(L) (x - c)` (brain size, shape and a small rotation).

    Attributes:
        control_mm: `(3, n, n, n)` local velocity at control points spanning the field of view,
            RAS mm.
        linear: `(3, 3)` velocity gradient of the global part (dimensionless); its trace / 3 is
            the log of the isotropic scale.
        center_mm: `(3,)` fixed point of the global part, RAS mm.
    """

    control_mm: np.ndarray
    linear: np.ndarray
    center_mm: np.ndarray

    @classmethod
    def sample(
        cls,
        rng: np.random.Generator,
        *,
        center_mm: np.ndarray,
        amplitude_mm: float,
        control_points: int = 5,
        log_scale_sd: float = 0.04,
        anisotropy_sd: float = 0.02,
        rotation_sd_deg: float = 3.0,
    ) -> VelocityFieldParameters:
        """Draw a field: Gaussian control velocities and a random global scale and rotation.

        Args:
            rng: the random stream (fixed draw count, so later draws do not depend on grids).
            center_mm: `(3,)` centre of the global part (e.g. the brain centroid), RAS mm.
            amplitude_mm: standard deviation of each control velocity component, mm.
            control_points: control points per axis.
            log_scale_sd: standard deviation of the log isotropic scale.
            anisotropy_sd: standard deviation of the extra log scale along each axis.
            rotation_sd_deg: standard deviation of the rotation angle about each axis, degrees.
        """
        control = rng.normal(0.0, amplitude_mm, size=(3, *(control_points,) * 3))
        log_scale = rng.normal(0.0, log_scale_sd) + rng.normal(0.0, anisotropy_sd, size=3)
        angles = np.deg2rad(rng.normal(0.0, rotation_sd_deg, size=3))
        skew = np.array(
            [
                [0.0, -angles[2], angles[1]],
                [angles[2], 0.0, -angles[0]],
                [-angles[1], angles[0], 0.0],
            ]
        )
        return cls(control, np.diag(log_scale) + skew, np.asarray(center_mm, dtype=float))

    @property
    def global_scale(self) -> float:
        """Isotropic size factor of the global part, `exp(trace(L) / 3)`."""
        return float(np.exp(np.trace(self.linear) / 3.0))

    def velocity_vox(self, affine: np.ndarray, size_vox: tuple[int, int, int]) -> np.ndarray:
        """The field on a grid, in that grid's voxel units.

        Args:
            affine: `(4, 4)` voxel-to-world matrix of the grid, RAS mm.
            size_vox: `(X, Y, Z)` grid shape.

        Returns:
            `(3, X, Y, Z)` float32 velocity, voxels per unit time.
        """
        velocity_mm = upsample_corner_aligned(self.control_mm, size_vox, order=3)  # (3, X, Y, Z)
        axes = [np.arange(n, dtype=np.float32) for n in size_vox]
        world = np.stack(np.meshgrid(*axes, indexing="ij"))  # (3, X, Y, Z) voxel indices
        world = np.einsum("ab,bxyz->axyz", affine[:3, :3].astype(np.float32), world)
        offset = (affine[:3, 3] - self.center_mm).astype(np.float32)
        world += offset[:, None, None, None]  # (3, X, Y, Z) x - c, mm
        velocity_mm += np.einsum("ab,bxyz->axyz", self.linear.astype(np.float32), world)
        to_voxels = np.linalg.inv(affine[:3, :3]).astype(np.float32)
        return np.einsum("ab,bxyz->axyz", to_voxels, velocity_mm)
