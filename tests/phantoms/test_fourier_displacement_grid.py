import numpy as np

from anatomy_ssl.phantoms.fourier_displacement import FourierDisplacement


def test_grid_evaluation_equals_point_evaluation_to_float32_rounding():
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
        # the separable grid sums the same terms in another order: equal up to float32 rounding
        # (bit-identical with some numpy builds, 1-2 ulp apart with others, e.g. numpy 2.4.6)
        np.testing.assert_allclose(found[component], expected[..., component], rtol=0, atol=2e-5)
