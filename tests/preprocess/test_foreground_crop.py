import numpy as np

from anatomy_ssl.io.volume import Volume
from anatomy_ssl.preprocess import foreground_box


def test_box_is_largest_component_plus_margin():
    mask = np.zeros((20, 20, 20), dtype=bool)
    mask[5:10, 6:12, 7:15] = True  # the body
    mask[18, 18, 18] = True  # a speck (e.g. table edge) that must not widen the box
    box = foreground_box(mask, spacing_mm=(1.0, 2.0, 1.0), margin_mm=2.0)
    assert box.start == (3, 5, 5)
    assert box.stop == (12, 13, 17)


def test_margin_is_clipped_to_the_array_and_empty_mask_keeps_everything():
    mask = np.zeros((6, 6), dtype=bool)
    mask[0:2, 4:6] = True
    box = foreground_box(mask, spacing_mm=(1.0, 1.0), margin_mm=10.0)
    assert box.start == (0, 0) and box.stop == (6, 6)
    empty = foreground_box(np.zeros((4, 5, 6), bool), spacing_mm=(1, 1, 1), margin_mm=1)
    assert empty.start == (0, 0, 0) and empty.stop == (4, 5, 6)


def test_crop_keeps_world_positions():
    array = np.arange(8 * 9 * 10, dtype=np.float32).reshape(1, 8, 9, 10)
    affine = np.array([[0.5, 0, 0, 3], [0, 1.5, 0, 4], [0, 0, 2, 5], [0, 0, 0, 1.0]])
    volume = Volume(array, affine)
    mask = np.zeros((8, 9, 10), bool)
    mask[2:5, 3:7, 4:9] = True
    box = foreground_box(mask, spacing_mm=volume.spacing_mm, margin_mm=0)
    cropped = box.apply(volume)
    assert cropped.size_vox == (3, 4, 5)
    assert np.allclose(
        cropped.voxel_to_world(np.zeros((1, 3))), volume.voxel_to_world(np.array([[2, 3, 4]]))
    )
    assert cropped.array[0, 0, 0, 0] == array[0, 2, 3, 4]
