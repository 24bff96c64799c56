import numpy as np

from anatomy_ssl.phantoms.fourier_displacement import FourierDisplacement


def test_grid_evaluation_equals_point_evaluation_bit_for_bit():
    field = FourierDisplacement.random(np.random.default_rng(2), amplitude_mm=6.0)
    axes = (
        np.linspace(-210.0, 205.0, 21),
        np.linspace(-190.0, 170.0, 18),
        np.linspace(-300.0, 215.0, 26),
    )
    points = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1)
    expected = field(points)
    found = field.on_grid(axes)
    for component in range(3):
        assert found[component].dtype == np.float32
        assert found[component].flags.c_contiguous
        assert np.array_equal(found[component], expected[..., component])
