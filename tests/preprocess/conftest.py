import numpy as np
import pytest

from anatomy_ssl.io.volume import Volume


@pytest.fixture
def lps_volume() -> Volume:
    """A (1, 5, 6, 7) volume stored L-P-S with distinct voxel values and anisotropic spacing."""
    array = np.arange(5 * 6 * 7, dtype=np.float32).reshape(1, 5, 6, 7)
    affine = np.array(
        [[-0.8, 0, 0, 10.0], [0, -1.2, 0, -20.0], [0, 0, 2.5, 5.0], [0, 0, 0, 1]], dtype=float
    )
    return Volume(array, affine, source="memory")


@pytest.fixture
def ct_pair():
    """A small CT-like image and label map (RAS), as Volumes."""
    from anatomy_ssl.phantoms import make_ct_like_volume

    generated = make_ct_like_volume((40, 36, 30), (2.0, 2.0, 3.0), seed=3)
    return (
        Volume(generated.hu[None], generated.affine, source="memory"),
        Volume(generated.label[None], generated.affine, source="memory"),
    )
