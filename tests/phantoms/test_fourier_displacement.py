import numpy as np

from anatomy_ssl.phantoms.fourier_displacement import FourierDisplacement


def test_point_inverse_is_exact_and_field_is_smooth():
    rng = np.random.default_rng(0)
    field = FourierDisplacement.random(rng, amplitude_mm=7.0)
    assert field.max_gradient() <= 0.4 + 1e-9  # diffeomorphic, fixed point converges
    scale = np.array([1.1, 0.9, 1.05])
    offset = np.array([3.0, -2.0, 1.0])
    targets = rng.uniform(-200, 200, size=(50, 3))
    x = field.solve_points(targets, scale, offset)
    mapped = (x - offset) / scale + field(x).astype(np.float64)
    assert np.max(np.abs(mapped - targets)) < 1e-3


def test_field_matches_its_equation():
    rng = np.random.default_rng(1)
    field = FourierDisplacement.random(rng, amplitude_mm=5.0, modes=3)
    point = np.array([10.0, -20.0, 30.0])
    expected = [
        sum(
            field.amplitudes_mm[c, m] * np.sin(field.wavevectors[c, m] @ point + field.phases[c, m])
            for m in range(3)
        )
        for c in range(3)
    ]
    assert np.allclose(field(point[None])[0], expected, atol=1e-4)
