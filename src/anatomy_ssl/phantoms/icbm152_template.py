"""The ICBM152 2009a symmetric MNI template that ships inside the nilearn wheel, with tissue labels.

The T1 image and the grey- and white-matter probability maps are read by path from
`nilearn/datasets/data/` (no fetcher, no network). The brain mask and the four-class tissue map are
derived here:

- brain mask: the (GM + WM) probability smoothed with a 1 mm Gaussian, thresholded at 0.3, holes
  filled (ventricles), largest component kept, dilated by 3 mm so it takes in the CSF around the
  brain, and cut to where the (skull-stripped) T1 is non-zero, so the mask never covers black
  image;
- tissue: 0 background, 1 CSF and other tissue of the mask, 2 grey matter, 3 white matter (the
  larger of the two probabilities, where it exceeds 0.5 inside the mask).

Reference: V. Fonov et al., "Unbiased average age-appropriate atlases for pediatric studies",
NeuroImage 54 (2011); ICBM 2009a nonlinear symmetric.
"""

from __future__ import annotations

import functools
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np
from scipy import ndimage as ndi

from anatomy_ssl.errors import ConfigError, InputError

#: File names of the template's T1 and tissue probability maps inside `nilearn/datasets/data/`.
ICBM152_FILES: dict[str, str] = {
    "t1": "mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz",
    "grey_matter": "mni_icbm152_gm_tal_nlin_sym_09a_converted.nii.gz",
    "white_matter": "mni_icbm152_wm_tal_nlin_sym_09a_converted.nii.gz",
}

#: Label values of the tissue map.
TISSUE_LABELS: dict[str, int] = {
    "background": 0,
    "csf_other": 1,
    "grey_matter": 2,
    "white_matter": 3,
}

_MASK_SMOOTHING_MM = 1.0
_MASK_THRESHOLD = 0.3
_CSF_MARGIN_MM = 3.0
_TISSUE_THRESHOLD = 0.5


@dataclass(frozen=True, eq=False)
class Icbm152Template:
    """The template on one grid, in RAS voxel order; arrays are read-only (they are cached).

    Attributes:
        t1: `(X, Y, Z)` float32 T1-weighted intensity in [0, 1] (zero outside the brain).
        grey_matter: `(X, Y, Z)` float32 grey-matter probability in [0, 1].
        white_matter: `(X, Y, Z)` float32 white-matter probability in [0, 1].
        brain_mask: `(X, Y, Z)` bool, brain plus surrounding CSF.
        tissue: `(X, Y, Z)` uint8 labels (`TISSUE_LABELS`).
        affine: `(4, 4)` voxel-to-world matrix, RAS mm (MNI space).
    """

    t1: np.ndarray
    grey_matter: np.ndarray
    white_matter: np.ndarray
    brain_mask: np.ndarray
    tissue: np.ndarray
    affine: np.ndarray

    @property
    def size_vox(self) -> tuple[int, int, int]:
        x, y, z = self.t1.shape
        return int(x), int(y), int(z)

    @property
    def spacing_mm(self) -> tuple[float, float, float]:
        x, y, z = np.linalg.norm(self.affine[:3, :3], axis=0)
        return float(x), float(y), float(z)

    @property
    def voxel_volume_ml(self) -> float:
        """Volume of one voxel in millilitres (cm^3)."""
        return float(abs(np.linalg.det(self.affine[:3, :3]))) / 1000.0

    def voxel_to_world(self, indices: np.ndarray) -> np.ndarray:
        """`(N, 3)` voxel indices (continuous) -> `(N, 3)` RAS mm."""
        points = np.atleast_2d(np.asarray(indices, dtype=float))
        return points @ self.affine[:3, :3].T + self.affine[:3, 3]

    def world_to_voxel(self, points_mm: np.ndarray) -> np.ndarray:
        """`(N, 3)` RAS mm -> `(N, 3)` continuous voxel indices."""
        points = np.atleast_2d(np.asarray(points_mm, dtype=float))
        return (points - self.affine[:3, 3]) @ np.linalg.inv(self.affine[:3, :3]).T


def icbm152_data_dir() -> Path:
    """The folder of the nilearn package that holds the template files (nilearn is not imported).

    Raises:
        InputError: nilearn is not installed, or its wheel lacks the template files.
    """
    spec = importlib.util.find_spec("nilearn")
    if spec is None or not spec.submodule_search_locations:
        raise InputError(
            "nilearn", "not installed; `pip install --no-deps nilearn` ships the template"
        )
    folder = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data"
    missing = [name for name in ICBM152_FILES.values() if not (folder / name).is_file()]
    if missing:
        raise InputError(folder, f"the nilearn package lacks the ICBM152 files {missing}")
    return folder


@functools.lru_cache(maxsize=4)
def load_icbm152_template(resolution_mm: float = 2.0) -> Icbm152Template:
    """Load the template, resampled to isotropic `resolution_mm`, with mask and tissue labels.

    The grid keeps the template's origin (voxel 0 stays at the same world point) and field of
    view; images are smoothed against aliasing before linear resampling. Results are cached per
    resolution in this process, and their arrays are read-only.

    Args:
        resolution_mm: voxel size of the returned grid, in mm (the files are 1 mm).

    Returns:
        The template; at 2 mm its grid is `(99, 117, 95)` voxels, at 1 mm `(197, 233, 189)`.

    Raises:
        ConfigError: `resolution_mm` is not positive.
        InputError: the template files cannot be found or read.
    """
    if not resolution_mm > 0:
        raise ConfigError(f"resolution_mm must be positive, got {resolution_mm}")
    folder = icbm152_data_dir()
    maps: dict[str, np.ndarray] = {}
    affine = np.eye(4)
    for name, file_name in ICBM152_FILES.items():
        image = nib.Nifti1Image.from_filename(folder / file_name)
        affine = np.asarray(image.affine, dtype=np.float64)
        # The files are uint8 without scaling, 0..255.
        native = np.asarray(image.dataobj, dtype=np.float32) / 255.0  # (197, 233, 189)
        factor = resolution_mm / float(np.linalg.norm(affine[:3, 0]))
        maps[name] = _resample(native, factor)
        if name == "t1":
            # Where the skull-stripped T1 is non-zero, as a fraction of each new voxel.
            maps["support"] = _resample((native > 0).astype(np.float32), factor)
    scale = resolution_mm / np.linalg.norm(affine[:3, :3], axis=0)
    affine = affine @ np.diag([*scale, 1.0])
    spacing = tuple(float(s) for s in np.linalg.norm(affine[:3, :3], axis=0))
    grey, white = maps["grey_matter"], maps["white_matter"]
    mask = _brain_mask(grey + white, maps["support"] > 0.5, spacing)
    tissue = _tissue_labels(grey, white, mask)
    arrays = (maps["t1"], grey, white, mask, tissue, affine)
    for array in arrays:
        array.setflags(write=False)
    return Icbm152Template(*arrays)


def _resample(array: np.ndarray, factor: float) -> np.ndarray:
    """Resample to voxels `factor` times larger, keeping voxel 0 and the field of view.

    Args:
        array: `(X, Y, Z)` float32.
        factor: new voxel size / old voxel size.

    Returns:
        `(floor((X - 1) / factor) + 1, ...)` float32.
    """
    if abs(factor - 1.0) < 1e-6:
        return array.copy()
    if factor > 1.0:
        # Gaussian anti-aliasing before decimation (the sigma scikit-image uses).
        array = ndi.gaussian_filter(array, sigma=(factor - 1.0) / 2.0, mode="nearest")
    size = [int(np.floor((n - 1) / factor + 1e-6)) + 1 for n in array.shape]
    axes = [np.arange(n, dtype=np.float32) * np.float32(factor) for n in size]
    coordinates = np.stack(np.meshgrid(*axes, indexing="ij"))  # (3, X', Y', Z')
    resampled = ndi.map_coordinates(array, coordinates, order=1, mode="nearest")
    return np.clip(resampled, 0.0, 1.0).astype(np.float32)


def _brain_mask(
    brain_probability: np.ndarray, image_support: np.ndarray, spacing_mm: tuple[float, ...]
) -> np.ndarray:
    """Brain + CSF mask from `(X, Y, Z)` GM + WM probability and the T1's non-zero support."""
    sigma = [_MASK_SMOOTHING_MM / s for s in spacing_mm]
    brain = ndi.gaussian_filter(brain_probability, sigma=sigma) > _MASK_THRESHOLD
    brain = ndi.binary_fill_holes(brain)
    components, count = ndi.label(brain)
    if count > 1:
        sizes = np.bincount(components.ravel())
        sizes[0] = 0
        brain = components == int(np.argmax(sizes))
    # An iterated 18-neighbour dilation: close to a ball of the margin's radius, and 10x faster
    # than a Euclidean distance transform at 1 mm.
    steps = max(1, round(_CSF_MARGIN_MM / min(spacing_mm)))
    around = ndi.binary_dilation(brain, ndi.generate_binary_structure(3, 2), iterations=steps)
    mask = around & image_support
    return np.asarray(ndi.binary_fill_holes(mask), dtype=bool)


def _tissue_labels(grey: np.ndarray, white: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """`(X, Y, Z)` uint8 tissue map (`TISSUE_LABELS`) from probabilities and the brain mask."""
    tissue = mask.astype(np.uint8)  # 1 = CSF / other inside the mask
    matter = mask & (np.maximum(grey, white) > _TISSUE_THRESHOLD)
    tissue[matter & (grey > white)] = TISSUE_LABELS["grey_matter"]
    tissue[matter & (white >= grey)] = TISSUE_LABELS["white_matter"]
    return tissue
