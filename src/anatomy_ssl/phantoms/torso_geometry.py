"""Torso anatomy as implicit shapes in template space (mm; +x Right, +y Anterior, +z Superior),
painted into a level-2 part map at the template coordinates of every voxel.

All shapes are evaluated on whole arrays (no voxel loops). Repeated look-alike structures
(vertebrae, discs, ribs, left/right organs) share one shape rule each, so telling them apart needs
position and context, not texture.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from anatomy_ssl.phantoms.torso_hierarchy import DISCS, PART_ID, VERTEBRAE
from anatomy_ssl.phantoms.torso_parameters import TorsoParameters

#: Spine: column axis (x, y), top of T1 and bottom of L5 (template z, mm).
SPINE_AXIS = (0.0, -70.0)
SPINE_TOP, SPINE_BOTTOM = 183.0, -292.0
SPINE_PITCH = (SPINE_TOP - SPINE_BOTTOM) / len(VERTEBRAE)
VERTEBRA_FRACTION = 0.72  # of each level; the rest is the disc below
TRACHEA_AXIS = (3.0, -22.0)
CARINA_Z = 75.0


@dataclass(frozen=True)
class TorsoShapes:
    """Shape parameters of one subject in template space (mm)."""

    lung_centres: dict[str, np.ndarray]
    lung_radii: np.ndarray
    heart_centre: np.ndarray
    heart_radii: np.ndarray
    dome_centres_z: dict[str, float]
    liver_centre: np.ndarray
    liver_radii: np.ndarray
    spleen_centre: np.ndarray
    spleen_radii: np.ndarray
    stomach_centre: np.ndarray
    stomach_radii: np.ndarray
    kidney_centres: dict[str, np.ndarray]
    kidney_radii: np.ndarray
    aorta_path: np.ndarray
    aorta_radius: float
    fat_mm: float

    @classmethod
    def for_subject(cls, params: TorsoParameters) -> TorsoShapes:
        j, s = params.organ_jitter, params.organ_size
        shift = params.diaphragm_shift_mm
        lung = j["lungs"]
        return cls(
            lung_centres={
                "right": np.array([78.0, -5.0, 45.0]) + lung,
                "left": np.array([-78.0, -5.0, 40.0]) + lung * np.array([-1, 1, 1]),
            },
            lung_radii=np.array([62.0, 85.0, 120.0]) * s["lungs"],
            heart_centre=np.array([-25.0, 35.0, -15.0 - 0.4 * shift]) + j["heart"],
            heart_radii=np.array([62.0, 50.0, 55.0]) * s["heart"],
            dome_centres_z={"right": -35.0 - shift, "left": -50.0 - shift},
            liver_centre=np.array([70.0, 15.0, -110.0 - shift]) + j["liver"],
            liver_radii=np.array([90.0, 85.0, 75.0]) * s["liver"],
            spleen_centre=np.array([-95.0, -40.0, -95.0 - shift]) + j["spleen"],
            spleen_radii=np.array([32.0, 48.0, 55.0]) * s["spleen"],
            stomach_centre=np.array([-55.0, 30.0, -105.0 - shift]) + j["stomach"],
            stomach_radii=np.array([48.0, 38.0, 45.0]) * s["stomach"],
            kidney_centres={
                "right": np.array([70.0, -60.0, -185.0]) + j["kidneys"],
                "left": np.array([-70.0, -60.0, -170.0]) + j["kidneys"] * np.array([-1, 1, 1]),
            },
            kidney_radii=np.array([28.0, 25.0, 55.0]) * s["kidneys"],
            aorta_path=np.array(
                [
                    [-10, 30, 5],
                    [-6, 25, 80],
                    [-18, 5, 105],
                    [-28, -30, 95],
                    [-28, -48, 60],
                    [-26, -50, -300],
                ],
                dtype=float,
            )
            + j["aorta"] * np.array([1, 1, 0]),
            aorta_radius=13.0 * s["aorta"],
            fat_mm=params.fat_mm,
        )

    def dome_z(self, side: str, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Height of the diaphragm dome under one lung (mm)."""
        centre_x = self.lung_centres[side][0]
        return self.dome_centres_z[side] - 0.004 * ((x - float(centre_x)) ** 2 + (y - 5.0) ** 2)


@dataclass(frozen=True)
class TemplateWindow:
    """Voxel slices that contain a template-space box, so shapes are evaluated only near them.

    With T(x) = x / scale + u(x) and |u| <= margin, template box [lo, hi] lies inside the world box
    [scale * (lo - margin), scale * (hi + margin)].

    Attributes:
        world_axes: per axis, `(n_a,)` world coordinates (mm) of the voxel centres.
        scale: `(3,)` habitus scale of the subject.
        margin_mm: bound on the displacement magnitude per component.
    """

    world_axes: tuple[np.ndarray, np.ndarray, np.ndarray]
    scale: np.ndarray
    margin_mm: float

    def __call__(self, low: np.ndarray, high: np.ndarray) -> tuple[slice, slice, slice]:
        slices = []
        for axis, coords in enumerate(self.world_axes):
            a = (low[axis] - self.margin_mm) * self.scale[axis]
            b = (high[axis] + self.margin_mm) * self.scale[axis]
            start = int(np.searchsorted(coords, a, side="left"))
            stop = int(np.searchsorted(coords, b, side="right"))
            slices.append(slice(max(start - 1, 0), stop + 1))
        return slices[0], slices[1], slices[2]


def _ellipsoid(p: tuple[np.ndarray, ...], centre: np.ndarray, radii: np.ndarray) -> np.ndarray:
    x, y, z = p
    c, r = centre.astype(np.float32), radii.astype(np.float32)  # keep float32 arithmetic
    return ((x - c[0]) / r[0]) ** 2 + ((y - c[1]) / r[1]) ** 2 + ((z - c[2]) / r[2]) ** 2 <= 1.0


def segment_distance(points: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Distance (mm) from `(N, 3)` points to the segment start-end."""
    direction = end - start
    t = np.clip(((points - start) @ direction) / float(direction @ direction), 0.0, 1.0)
    return np.linalg.norm(points - (start + t[:, None] * direction), axis=1)


def _vessel_tree(hilum: np.ndarray, side: float) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """A fixed three-generation branching tree of (start, end, radius) from a lung hilum."""
    segments = []
    frontier = [(hilum, np.array([side * 0.8, 0.0, 0.6]), 6.0, 45.0)]
    for _generation in range(3):
        children = []
        for start, direction, radius, length in frontier:
            end = start + direction / np.linalg.norm(direction) * length
            segments.append((start, end, radius))
            for turn in (np.array([0.0, 0.6, -0.9]), np.array([0.0, -0.6, 0.9])):
                children.append((end, direction + turn, radius * 0.65, length * 0.75))
            children.append((end, direction * np.array([1, 1, -1.5]), radius * 0.65, length * 0.75))
        frontier = children
    return segments


#: Template-space box (mm) that holds the whole body: widest and deepest below the neck, and
#: the z limits of `body_mask`.
BODY_BOX = (np.array([-165.0, -115.0, -330.0]), np.array([165.0, 115.0, 240.0]))
#: Where the body narrows into the neck (template z from NECK_Z up to the top of `BODY_BOX`).
NECK_Z, NECK_LENGTH = 150.0, 45.0
NECK_BOX = (np.array([-165.0, -115.0, NECK_Z]), BODY_BOX[1])


def body_mask(
    p: tuple[np.ndarray, ...], shapes: TorsoShapes, window: TemplateWindow | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(body, inside the fat rim) masks; the neck narrows above the shoulders.

    With a `window`, the shape is evaluated only in the voxels that can hold `BODY_BOX` (the
    rest is air), and the narrowing only in those that can hold `NECK_BOX` (below it the
    narrowing is zero): the masks are the same.
    """
    if window is None:
        return _body_and_interior(p, shapes.fat_mm, neck=True)
    body, inner = (np.zeros(p[0].shape, dtype=bool) for _ in range(2))
    for box, neck in ((BODY_BOX, False), (NECK_BOX, True)):
        region = window(*box)
        body[region], inner[region] = _body_and_interior(
            tuple(a[region] for a in p), shapes.fat_mm, neck=neck
        )
    return body, inner


def _body_and_interior(
    p: tuple[np.ndarray, ...], fat_mm: float, *, neck: bool
) -> tuple[np.ndarray, np.ndarray]:
    """`body_mask` at points `p`. `neck=False` drops the narrowing: exact (same bits) at points
    with z <= NECK_Z, where the narrowing is zero, and at z >= 240, where there is no body."""
    x, y, z = p
    half_width: np.ndarray | float
    half_depth: np.ndarray | float
    inner_width: np.ndarray | float
    inner_depth: np.ndarray | float
    if neck:
        taper = np.clip((z - NECK_Z) / NECK_LENGTH, 0.0, 1.0)
        half_width = 165.0 - 95.0 * taper
        half_depth = 115.0 - 50.0 * taper
        inner_width = np.maximum(half_width - fat_mm, 10.0)
        inner_depth = np.maximum(half_depth - fat_mm, 10.0)
    else:
        half_width, half_depth = 165.0, 115.0
        inner_width, inner_depth = max(165.0 - fat_mm, 10.0), max(115.0 - fat_mm, 10.0)
    radial = (x / half_width) ** 2 + (y / half_depth) ** 2
    body = (radial <= 1.0) & (z > -330) & (z < 240)
    inner = ((x / inner_width) ** 2 + (y / inner_depth) ** 2 <= 1.0) & body
    return body, inner


def paint_parts(
    p: tuple[np.ndarray, ...], shapes: TorsoShapes, window: TemplateWindow
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Level-2 part map, body mask and body-interior (inside the fat rim) mask at template points
    `p = (x, y, z)` (float32 arrays of one shape).

    Later structures overwrite earlier ones (e.g. airways and vessels cut into the lungs, bones
    into everything); every part is clipped to the body interior. Each shape is evaluated only in
    its `window`.
    """
    x, y, z = p
    body, inner = body_mask(p, shapes, window)
    parts = np.zeros(x.shape, dtype=np.uint8)

    def box(
        centre: np.ndarray, radii: np.ndarray
    ) -> tuple[tuple[slice, ...], tuple[np.ndarray, ...]]:
        region = window(centre - radii, centre + radii)
        return region, (x[region], y[region], z[region])

    def paint(region: tuple[slice, ...], mask: np.ndarray, name: str) -> None:
        parts[region][mask & inner[region]] = PART_ID[name]

    # Abdomen under the domes.
    for name, centre, radii, side in (
        ("liver", shapes.liver_centre, shapes.liver_radii, "right"),
        ("spleen", shapes.spleen_centre, shapes.spleen_radii, "left"),
        ("stomach", shapes.stomach_centre, shapes.stomach_radii, "left"),
    ):
        region, q = box(centre, radii)
        below_dome = q[2] < shapes.dome_z(side, q[0], q[1]) - 3.0
        paint(region, _ellipsoid(q, centre, radii) & below_dome, name)
    for side in ("right", "left"):
        centre = shapes.kidney_centres[side]
        region, q = box(centre, shapes.kidney_radii)
        paint(region, _ellipsoid(q, centre, shapes.kidney_radii), f"{side}_kidney_cortex")
        paint(region, _ellipsoid(q, centre, shapes.kidney_radii * 0.6), f"{side}_kidney_medulla")

    # Lungs and lobes, carved around the heart and the mediastinum.
    for side, sign in (("right", 1.0), ("left", -1.0)):
        centre = shapes.lung_centres[side]
        region, q = box(centre, shapes.lung_radii)
        lung = _ellipsoid(q, centre, shapes.lung_radii)
        lung &= (q[2] > shapes.dome_z(side, q[0], q[1])) & (sign * q[0] > 22.0)
        lung &= ~_ellipsoid(q, shapes.heart_centre, shapes.heart_radii + 6.0)
        lower = q[2] < float(centre[2]) - 10.0 - 0.9 * q[1]  # oblique fissure
        if side == "right":
            upper = ~lower & (q[2] > 20.0 + 0.2 * q[1])  # horizontal fissure
            paint(region, lung & lower, "right_lower_lobe")
            paint(region, lung & upper, "right_upper_lobe")
            paint(region, lung & ~lower & ~upper, "right_middle_lobe")
        else:
            paint(region, lung & lower, "left_lower_lobe")
            paint(region, lung & ~lower, "left_upper_lobe")

    # Heart chambers: an oblique septum (right vs left) and the atrioventricular plane.
    centre = shapes.heart_centre
    region, q = box(centre, shapes.heart_radii)
    heart = _ellipsoid(q, centre, shapes.heart_radii)
    right_side = (q[0] - float(centre[0])) + 0.6 * (q[1] - float(centre[1])) > 0
    atria = (q[2] - float(centre[2])) - 0.5 * (q[1] - float(centre[1])) > 0
    paint(region, heart & right_side & atria, "right_atrium")
    paint(region, heart & right_side & ~atria, "right_ventricle")
    paint(region, heart & ~right_side & atria, "left_atrium")
    paint(region, heart & ~right_side & ~atria, "left_ventricle")

    def tube(path: np.ndarray, radius: float, name: str, within: set[int] | None = None) -> None:
        for start, end in itertools.pairwise(path):  # a handful of segments
            region = window(np.minimum(start, end) - radius, np.maximum(start, end) + radius)
            points = np.stack([x[region], y[region], z[region]], axis=-1)  # (a, b, c, 3)
            shape = points.shape[:-1]
            near = segment_distance(points.reshape(-1, 3), start, end).reshape(shape) <= radius
            if within is not None:
                near &= np.isin(parts[region], list(within))
            paint(region, near, name)

    tube(shapes.aorta_path, shapes.aorta_radius, "aorta")
    for side, sign, lobes in (
        ("right", 1.0, ("right_upper_lobe", "right_middle_lobe", "right_lower_lobe")),
        ("left", -1.0, ("left_upper_lobe", "left_lower_lobe")),
    ):
        lobe_ids = {PART_ID[n] for n in lobes}
        hilum = shapes.lung_centres[side] * np.array([0.55, 1, 1]) + np.array([0, 0, -5.0])
        for start, end, radius in _vessel_tree(hilum, sign):
            tube(np.array([start, end]), radius, f"{side}_pulmonary_vessels", within=lobe_ids)
    carina = np.array([*TRACHEA_AXIS, CARINA_Z])
    tube(np.array([[*TRACHEA_AXIS, 250.0], carina]), 9.0, "trachea")
    tube(np.array([carina, [42.0, -24.0, 45.0]]), 6.5, "right_main_bronchus")
    tube(np.array([carina, [-46.0, -26.0, 40.0]]), 6.0, "left_main_bronchus")

    spine_region = window(
        np.array([-45.0, SPINE_AXIS[1] - 80.0, SPINE_BOTTOM]),
        np.array([45.0, SPINE_AXIS[1] + 35.0, SPINE_TOP]),
    )
    _paint_spine(tuple(a[spine_region] for a in p), parts[spine_region], inner[spine_region])
    rib_region = window(*rib_box(shapes.fat_mm))
    _paint_ribs(
        tuple(a[rib_region] for a in p), parts[rib_region], inner[rib_region], shapes.fat_mm
    )
    for side, sign in (("right", 1.0), ("left", -1.0)):
        tube(
            np.array([[sign * 25.0, 55.0, 172.0], [sign * 150.0, 5.0, 188.0]]),
            8.0,
            f"{side}_clavicle",
        )
    return parts, body, inner


def vertebra_centre_z(level: int) -> float:
    """Template z (mm) of the centre of vertebral body `level` (0 = T1)."""
    return SPINE_TOP - (level + VERTEBRA_FRACTION / 2) * SPINE_PITCH


def _paint_spine(p: tuple[np.ndarray, ...], parts: np.ndarray, inner: np.ndarray) -> None:
    """Vertebral bodies + posterior arches and discs, one level per SPINE_PITCH of height."""
    x, y, z = p
    ax, ay = SPINE_AXIS
    level_position = (SPINE_TOP - z) / SPINE_PITCH  # 0 at the top of T1
    level = np.floor(level_position).astype(np.int32)
    fraction = level_position - level
    in_range = (level >= 0) & (level < len(VERTEBRAE))
    radius = 16.0 + np.clip(SPINE_TOP - z, 0, None) * 0.015  # bodies grow caudally
    body = (x - ax) ** 2 + (y - ay) ** 2 <= radius**2
    canal_distance = np.sqrt(x**2 + (y - (ay - radius - 10.0)) ** 2)
    arch = ((canal_distance > 9.0) & (canal_distance < 16.0) & (y < ay - radius + 2.0)) | (
        (np.abs(x) < 6.0) & (y < ay - radius - 20.0) & (y > ay - radius - 45.0)
    )
    vertebra = in_range & (fraction < VERTEBRA_FRACTION) & (body | arch) & inner
    disc = in_range & (fraction >= VERTEBRA_FRACTION) & body & (level < len(DISCS)) & inner
    vertebra_ids = np.array([PART_ID[f"vertebra_{n}"] for n in VERTEBRAE], dtype=np.uint8)
    disc_ids = np.array([PART_ID[f"disc_{n}"] for n in DISCS] + [0], dtype=np.uint8)
    parts[vertebra] = vertebra_ids[level[vertebra]]
    parts[disc] = disc_ids[level[disc]]


def rib_height_offset(angle: np.ndarray) -> np.ndarray:
    """How far (mm) a rib has descended at `angle` (rad, -pi/2 posterior .. pi/2 anterior)."""
    return 45.0 * (angle + 1.35) / 2.35


def rib_box(fat_mm: float) -> tuple[np.ndarray, np.ndarray]:
    """Template-space box (mm) that holds every rib voxel of `_paint_ribs`, with 1 mm to spare:
    the shell `|radial - 1| < 0.05`, rib centres 0..11 within 6 mm, descending up to 45 mm."""
    half_width = 1.05 * (165.0 - fat_mm) * 0.9 + 1.0
    half_depth = 1.05 * (115.0 - fat_mm) * 0.85 + 1.0
    top_centre = SPINE_TOP - SPINE_PITCH * VERTEBRA_FRACTION / 2
    low = np.array([-half_width, -half_depth - 10.0, top_centre - 11 * SPINE_PITCH - 6.0 - 46.0])
    high = np.array([half_width, half_depth - 10.0, top_centre + 7.0])
    return low, high


def _paint_ribs(
    p: tuple[np.ndarray, ...], parts: np.ndarray, inner: np.ndarray, fat_mm: float
) -> None:
    """Twelve rib pairs on an elliptic shell just inside the body wall (under the fat), sloping
    down anteriorly; rib k leaves the spine at the height of vertebra T(k+1).

    Angles and heights are computed only at the voxels of the shell (inside the body), where a
    rib can be.
    """
    x, y, z = p
    ring_y = y + 10.0
    radial = np.sqrt(
        (x / ((165.0 - fat_mm) * 0.9)) ** 2 + (ring_y / ((115.0 - fat_mm) * 0.85)) ** 2
    )
    shell = (np.abs(radial - 1.0) < 0.05) & inner
    x, ring_y, z = x[shell], ring_y[shell], z[shell]
    angle = np.arctan2(ring_y, np.abs(x))
    z_rel = z + rib_height_offset(angle)
    rib = np.rint((SPINE_TOP - SPINE_PITCH * VERTEBRA_FRACTION / 2 - z_rel) / SPINE_PITCH)
    rib = rib.astype(np.int32)
    centre = SPINE_TOP - SPINE_PITCH * VERTEBRA_FRACTION / 2 - rib * SPINE_PITCH
    on_rib = (
        (np.abs(z_rel - centre) < 6.0) & (angle > -1.35) & (angle < 1.0) & (rib >= 0) & (rib < 12)
    )
    right_ids = np.array([PART_ID[f"right_rib_{i}"] for i in range(1, 13)], dtype=np.uint8)
    left_ids = np.array([PART_ID[f"left_rib_{i}"] for i in range(1, 13)], dtype=np.uint8)
    shell_parts = parts[shell]
    shell_parts[on_rib] = np.where(x[on_rib] > 0, right_ids[rib[on_rib]], left_ids[rib[on_rib]])
    parts[shell] = shell_parts
