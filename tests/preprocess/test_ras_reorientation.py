import numpy as np
from nibabel.orientations import aff2axcodes

from anatomy_ssl.io.volume import Volume
from anatomy_ssl.preprocess import AxisReorientation


def test_lps_becomes_ras_and_every_voxel_keeps_its_world_position(lps_volume):
    reorientation = AxisReorientation.to_ras(lps_volume)
    ras = reorientation.apply(lps_volume)
    assert aff2axcodes(ras.affine) == ("R", "A", "S")
    assert ras.spacing_mm == lps_volume.spacing_mm
    # Map every RAS voxel to world, back to the LPS grid, and compare values.
    grid = np.indices(ras.size_vox).reshape(3, -1).T
    world = ras.voxel_to_world(grid)
    homogeneous = np.concatenate([world, np.ones((len(world), 1))], axis=1)
    back = np.rint((np.linalg.inv(lps_volume.affine) @ homogeneous.T).T[:, :3]).astype(int)
    assert np.array_equal(ras.array[0][tuple(grid.T)], lps_volume.array[0][tuple(back.T)])


def test_permuted_axes_are_reordered():
    array = np.random.default_rng(0).random((2, 3, 4, 5)).astype(np.float32)
    # voxel axis 0 runs Superior, axis 1 Right, axis 2 Anterior
    affine = np.array([[0, 1.0, 0, 0], [0, 0, 2.0, 0], [3.0, 0, 0, 0], [0, 0, 0, 1]])
    volume = Volume(array, affine)
    ras = AxisReorientation.to_ras(volume).apply(volume)
    assert ras.size_vox == (4, 5, 3)
    assert ras.spacing_mm == (1.0, 2.0, 3.0)
    assert np.array_equal(ras.array, np.transpose(array, (0, 2, 3, 1)))


def test_identity_returns_the_same_volume():
    volume = Volume(np.zeros((1, 2, 3, 4), np.float32), np.eye(4))
    reorientation = AxisReorientation.to_ras(volume)
    assert reorientation.is_identity
    assert reorientation.apply(volume) is volume
