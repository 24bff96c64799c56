"""CT appearance of a phantom subject: tissue HU, texture, disease, scanner blur and noise.

The Gaussian fields are computed as `scipy.ndimage.gaussian_filter` would on the whole volume,
bit for bit, but the scanner blur only near the body: outside the body's bounding box grown by
twice the kernel radius every voxel is air, and so is its blurred value.
"""

from __future__ import annotations

import numpy as np

from anatomy_ssl.phantoms.fast_gaussian_filter import gaussian_filter
from anatomy_ssl.phantoms.torso_hierarchy import LOBES, PART_ID, PARTS
from anatomy_ssl.phantoms.torso_parameters import TorsoParameters
from anatomy_ssl.phantoms.voxel_box import gaussian_radius, mask_box

AIR_HU, FAT_HU, SOFT_TISSUE_HU = -1000.0, -100.0, 45.0
LUNG_HU, EMPHYSEMA_HU, NODULE_HU = -860.0, -995.0, 40.0
#: Low-attenuation threshold of the clinical emphysema score (LAA-950, as in clinical CT).
LAA_THRESHOLD_HU = -950.0


def _part_hu_table() -> np.ndarray:
    """Mean HU of each level-2 part (index = label value; 0 = other soft tissue)."""
    by_prefix = [
        ("vertebra_", 330.0),
        ("disc_", 85.0),
        ("right_rib", 480.0),
        ("left_rib", 480.0),
        ("right_clavicle", 520.0),
        ("left_clavicle", 520.0),
        ("trachea", -990.0),
        ("right_main_bronchus", -990.0),
        ("left_main_bronchus", -990.0),
        ("right_pulmonary_vessels", 40.0),
        ("left_pulmonary_vessels", 40.0),
        ("right_atrium", 38.0),
        ("right_ventricle", 42.0),
        ("left_atrium", 40.0),
        ("left_ventricle", 48.0),
        ("aorta", 45.0),
        ("liver", 62.0),
        ("spleen", 50.0),
        ("stomach", 22.0),
        ("right_kidney_cortex", 38.0),
        ("right_kidney_medulla", 28.0),
        ("left_kidney_cortex", 38.0),
        ("left_kidney_medulla", 28.0),
    ]
    table = np.full(len(PARTS) + 1, SOFT_TISSUE_HU, dtype=np.float32)
    for name in PARTS:
        if name in LOBES:
            table[PART_ID[name]] = LUNG_HU
        for prefix, hu in by_prefix:
            if name.startswith(prefix):
                table[PART_ID[name]] = hu
    return table


PART_HU = _part_hu_table()


def ct_appearance(
    params: TorsoParameters,
    parts: np.ndarray,
    body: np.ndarray,
    fat_rim: np.ndarray,
    height: np.ndarray,
    emphysema: np.ndarray,
    nodule: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """HU image: tissue means + texture + disease, then scanner blur, correlated noise, offset.

    Args:
        params: the subject (blur, slice anisotropy, noise level, HU offset).
        parts: `(X, Y, Z)` uint8 level-2 part map.
        body, fat_rim: `(X, Y, Z)` bool body and subcutaneous-fat masks.
        height: `(X, Y, Z)` template z in mm (for the gas level in the stomach).
        emphysema, nodule: `(X, Y, Z)` bool disease masks.
        rng: appearance randomness (texture, then noise).

    Returns:
        `(X, Y, Z)` float32 HU.
    """
    image = PART_HU[parts]
    image[fat_rim & (parts == 0)] = FAT_HU
    image[~body] = AIR_HU
    stomach = parts == PART_ID["stomach"]
    gas_level = np.percentile(height[stomach], 75) if stomach.any() else np.inf
    image[stomach & (height > gas_level)] = -950.0
    texture = gaussian_filter(rng.standard_normal(parts.shape, dtype=np.float32), 1.5)
    texture *= np.float32(1.0 / max(float(texture.std()), 1e-6))
    body_box = mask_box(body)
    if body_box is not None:  # outside the body the texture term is zero
        inside = image[body_box]
        weight = np.where(inside < -500, np.float32(25.0), np.float32(12.0))
        weight *= texture[body_box]
        weight *= body[body_box]
        inside += weight
    image[emphysema] = EMPHYSEMA_HU
    image[nodule] = NODULE_HU
    thickness = params.blur_vox * params.slice_spacing_factor
    image = _scanner_blur(image, body, (params.blur_vox, params.blur_vox, thickness))
    noise = gaussian_filter(rng.standard_normal(parts.shape, dtype=np.float32), 0.7)
    noise *= np.float32(params.noise_hu / max(float(noise.std()), 1e-6))
    image += noise
    image += params.hu_offset
    return np.clip(image, -1024, 3071, out=image)


def _scanner_blur(
    image: np.ndarray, body: np.ndarray, sigmas: tuple[float, float, float]
) -> np.ndarray:
    """`gaussian_filter(image, sigmas)` for an image that is `AIR_HU` outside `body`.

    Filtered in the body's box grown by twice the kernel radius r per axis: voxels within r of
    the box see exactly their whole-volume neighbourhood, the outer r-thick layer (and what the
    box edge reflects into it) is all air, as in the whole volume; beyond the box every value is
    blurred air, the same constant.
    """
    box = mask_box(body, [2 * gaussian_radius(s) for s in sigmas])
    if box is None:
        return gaussian_filter(image, sigmas)
    air = gaussian_filter(np.full((1, 1, 1), AIR_HU, dtype=np.float32), sigmas)
    blurred = np.full(image.shape, air[0, 0, 0], dtype=np.float32)
    blurred[box] = gaussian_filter(image[box], sigmas)
    return blurred


def lobe_voxel_counts(parts: np.ndarray, mask: np.ndarray) -> dict[str, tuple[int, int]]:
    """Per lung lobe: (voxels in the lobe, of them inside `mask`)."""
    counts = {}
    for lobe in LOBES:
        in_lobe = parts == PART_ID[lobe]
        counts[lobe] = (int(np.count_nonzero(in_lobe)), int(np.count_nonzero(in_lobe & mask)))
    return counts
