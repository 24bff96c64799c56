import numpy as np
from scipy import ndimage

from anatomy_ssl.phantoms.ct_appearance import AIR_HU, _scanner_blur, lobe_voxel_counts
from anatomy_ssl.phantoms.torso_hierarchy import LOBES, PART_ID


def test_scanner_blur_near_the_body_equals_the_whole_volume_filter():
    rng = np.random.default_rng(3)
    shape = (30, 26, 34)
    body = np.zeros(shape, dtype=bool)
    body[8:20, 5:25, 10:34] = True  # touches one border, not the others
    image = np.full(shape, AIR_HU, dtype=np.float32)
    image[body] = rng.normal(0, 300, size=int(body.sum())).astype(np.float32)
    for sigmas in ((0.3, 0.3, 0.5), (0.8, 0.8, 1.44), (1.3, 1.3, 3.9)):
        expected = ndimage.gaussian_filter(image, sigmas)
        assert np.array_equal(_scanner_blur(image, body, sigmas), expected)


def test_lobe_voxel_counts():
    rng = np.random.default_rng(4)
    parts = rng.integers(0, 60, size=(12, 13, 14)).astype(np.uint8)
    mask = rng.random(parts.shape) < 0.3
    counts = lobe_voxel_counts(parts, mask)
    assert list(counts) == list(LOBES)
    for lobe, (voxels, inside) in counts.items():
        in_lobe = parts == PART_ID[lobe]
        assert (voxels, inside) == (int(in_lobe.sum()), int((in_lobe & mask).sum()))
