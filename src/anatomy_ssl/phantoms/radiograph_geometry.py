"""Where the detector and the X-ray source of a PA chest radiograph sit around a volume.

PA view: the beam enters the patient's back and leaves through the chest into the detector, so
rays run along +y (posterior -> anterior, RAS) and the detector is the plane y = const at the
volume's anterior face. The image is displayed as a clinician reads a PA film: the patient's head
at the top, and the patient's Right on the viewer's left.

Image-plane coordinates (the 2D affine's output, the project's convention of x across and y down
the image): `u = -x` (RAS), growing towards the patient's Left, i.e. along the columns, and
`v = -z` (RAS), growing towards the feet, i.e. down the rows. These are DICOM's patient axes
LPS x and -LPS z, the geometry of a PA chest radiograph (patient orientation "L", "F"). In a
parallel projection they are the world x and z of every point on the pixel's ray; in a perspective
(cone-beam) projection they are measured on the detector plane, i.e. magnified.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: RAS world (x, y, z) -> image plane (u, v) = (-x, -z).
PLANE_FROM_WORLD = np.array([[-1.0, 0.0, 0.0], [0.0, 0.0, -1.0]])

#: Off-diagonal affine terms below this fraction of the smallest spacing count as zero.
_AXIS_ALIGNED_TOLERANCE = 1e-6

#: Slack when counting how many pixels cover a length, so rounding noise adds no extra pixel.
_COUNT_TOLERANCE = 1e-6


@dataclass(frozen=True, eq=False)
class RadiographGeometry:
    """The detector grid and the source of one radiograph.

    Attributes:
        shape: detector size `(rows, cols)` in pixels.
        affine: `(3, 3)` matrix mapping `(row, col, 1)` to `(u, v, 1)`, image-plane mm
            (module docstring): `u = -x` across the image, `v = -z` down it.
        detector_y_mm: RAS y of the detector plane, mm.
        source_mm: `(3,)` RAS position of the point source, mm, or None for parallel rays
            along +y.
    """

    shape: tuple[int, int]
    affine: np.ndarray
    detector_y_mm: float
    source_mm: np.ndarray | None = None

    def world_to_pixel(self, points_mm: np.ndarray) -> np.ndarray:
        """Where points cast their shadow on the detector.

        Args:
            points_mm: `(N, 3)` RAS points, mm.

        Returns:
            `(N, 2)` continuous `(row, col)` pixel positions (pixel centres at integers); NaN for
            points at or behind the source of a perspective projection.
        """
        points = np.atleast_2d(np.asarray(points_mm, dtype=float))  # (N, 3)
        if self.source_mm is not None:
            points = central_projection(points, self.source_mm, self.detector_y_mm)
        plane = points @ PLANE_FROM_WORLD.T  # (N, 2): u, v
        return (plane - self.affine[:2, 2]) @ np.linalg.inv(self.affine[:2, :2]).T

    def detector_points_mm(self, rows: slice = slice(None)) -> np.ndarray:
        """RAS positions of pixel centres on the detector plane.

        Args:
            rows: which detector rows.

        Returns:
            `(r, cols, 3)` points, mm.
        """
        row_index = np.arange(self.shape[0])[rows].astype(float)
        col_index = np.arange(self.shape[1], dtype=float)
        grid = np.stack(np.meshgrid(row_index, col_index, indexing="ij"), axis=-1)  # (r, W, 2)
        plane = grid @ self.affine[:2, :2].T + self.affine[:2, 2]  # (r, W, 2): u, v
        points = np.empty((*plane.shape[:2], 3))
        points[..., 0] = -plane[..., 0]
        points[..., 1] = self.detector_y_mm
        points[..., 2] = -plane[..., 1]
        return points

    def ray_directions(self, detector_points_mm: np.ndarray) -> np.ndarray:
        """Direction of the ray reaching each detector point, scaled to advance 1 mm along y.

        Args:
            detector_points_mm: `(..., 3)` points on the detector plane.

        Returns:
            `(..., 3)` vectors `d` with `d_y = 1`: the ray meets the plane `y` at
            `point + (y - detector_y_mm) * d`, and `|d|` mm of path lie in each mm along y.
        """
        if self.source_mm is None:
            return np.broadcast_to(np.array([0.0, 1.0, 0.0]), detector_points_mm.shape)
        offset = detector_points_mm - self.source_mm  # (..., 3)
        return offset / offset[..., 1:2]


def central_projection(
    points_mm: np.ndarray, source_mm: np.ndarray, detector_y_mm: float
) -> np.ndarray:
    """Project `(N, 3)` RAS points from a point source onto the plane `y = detector_y_mm`.

    Returns:
        `(N, 3)` points on the plane, mm; NaN for points not in front of the source (y <= its y).
    """
    depth = points_mm[:, 1] - source_mm[1]  # (N,) mm in front of the source
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(depth > 0, (detector_y_mm - source_mm[1]) / depth, np.nan)
    return source_mm + (points_mm - source_mm) * scale[:, None]


def volume_corners_mm(affine: np.ndarray, size_vox: tuple[int, ...]) -> np.ndarray:
    """The 8 outer corners (voxel edges, not centres) of a volume, `(8, 3)` RAS mm."""
    edges = [(-0.5, n - 0.5) for n in size_vox[:3]]
    corners = np.array(np.meshgrid(*edges, indexing="ij")).reshape(3, -1).T  # (8, 3) voxels
    return corners @ affine[:3, :3].T + affine[:3, 3]


def is_axis_aligned_ras(affine: np.ndarray) -> bool:
    """Whether voxel axes i, j, k run along +x, +y, +z: `(4, 4)` affine with a diagonal, positive
    linear part."""
    linear = affine[:3, :3]
    spacing = np.diag(linear)
    off_diagonal = linear - np.diag(spacing)
    return bool(
        np.all(spacing > 0)
        and np.abs(off_diagonal).max() <= _AXIS_ALIGNED_TOLERANCE * spacing.min()
    )


def radiograph_geometry(
    affine: np.ndarray,
    size_vox: tuple[int, ...],
    *,
    pixel_spacing_mm: float | None = None,
    source_to_detector_mm: float | None = None,
) -> RadiographGeometry:
    """A PA detector that sees the whole volume.

    The detector touches the volume's anterior face. Its pixel grid is centred on the volume's
    shadow (its bounding box on the detector) and has just enough pixels to cover it. With the
    default spacing and a parallel beam on an axis-aligned RAS volume, pixel centres lie exactly
    on the rays through voxel centres: column c <-> voxel i = X-1-c, row r <-> voxel k = Z-1-r.

    Args:
        affine: `(4, 4)` voxel-to-RAS matrix of the volume, mm.
        size_vox: `(X, Y, Z)` volume shape.
        pixel_spacing_mm: square pixel size on the detector, mm; None: the volume's voxel
            spacing along i across and along k down (pixels may be rectangular).
        source_to_detector_mm: distance from the point source to the detector, mm, for a
            perspective (cone-beam) projection whose central ray passes through the volume's
            centre; None: parallel projection.

    Returns:
        The geometry.

    Raises:
        ValueError: a spacing or distance that is not positive, or a source inside the volume.
    """
    corners = volume_corners_mm(affine, size_vox)  # (8, 3)
    detector_y = float(corners[:, 1].max())
    source = None
    shadow = corners
    if source_to_detector_mm is not None:
        depth = detector_y - float(corners[:, 1].min())
        if not source_to_detector_mm > depth:
            raise ValueError(
                f"source_to_detector_mm={source_to_detector_mm} must exceed the volume's "
                f"anterior-posterior extent ({depth:.1f} mm): the source must lie outside it"
            )
        centre = corners.mean(axis=0)
        source = np.array([centre[0], detector_y - source_to_detector_mm, centre[2]])
        shadow = central_projection(corners, source, detector_y)
    if pixel_spacing_mm is None:
        spacing = np.linalg.norm(affine[:3, :3], axis=0)
        row_spacing, col_spacing = float(spacing[2]), float(spacing[0])
    elif not pixel_spacing_mm > 0:
        raise ValueError(f"pixel_spacing_mm must be positive, got {pixel_spacing_mm}")
    else:
        row_spacing = col_spacing = float(pixel_spacing_mm)
    plane = shadow @ PLANE_FROM_WORLD.T  # (8, 2): u, v
    low, high = plane.min(axis=0), plane.max(axis=0)
    cols = max(1, math.ceil((high[0] - low[0]) / col_spacing - _COUNT_TOLERANCE))
    rows = max(1, math.ceil((high[1] - low[1]) / row_spacing - _COUNT_TOLERANCE))
    centre_u, centre_v = (low + high) / 2.0
    plane_affine = np.array(
        [
            [0.0, col_spacing, centre_u - (cols - 1) / 2.0 * col_spacing],
            [row_spacing, 0.0, centre_v - (rows - 1) / 2.0 * row_spacing],
            [0.0, 0.0, 1.0],
        ]
    )
    return RadiographGeometry((rows, cols), plane_affine, detector_y, source)
