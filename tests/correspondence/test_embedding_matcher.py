"""The coarse-to-fine embedding matcher: exact on a shifted copy, refusal, the exhaustive oracle."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from anatomy_ssl.correspondence import EmbeddingMatcher, coarse_to_fine_search
from anatomy_ssl.models import Encoder
from anatomy_ssl.preprocess import CachedVolume
from anatomy_ssl.preprocess.cache_entry import write_entry

SHAPE = (48, 32, 32)
SHIFT = 16  # voxels along axis 0: a multiple of the coarse stride, so every map shifts exactly


class LocalTextureEncoder(Encoder):
    """A deterministic stand-in for a trained embedding: the fine map holds the 8 voxels of each
    2-voxel block (stride 2), the coarse map pooled nonlinear features (stride 16)."""

    def __init__(self) -> None:
        super().__init__()
        self.spatial_dims, self.in_channels = 3, 1
        self.out_channels, self.strides = (8, 4), (2, 16)
        self.min_input_multiple, self.config = 16, {"name": "texture"}

    def forward_features(self, x: torch.Tensor) -> list[torch.Tensor]:
        b, _, d, h, w = x.shape
        blocks = x.reshape(b, d // 2, 2, h // 2, 2, w // 2, 2).permute(0, 2, 4, 6, 1, 3, 5)
        fine = blocks.reshape(b, 8, d // 2, h // 2, w // 2)
        features = torch.cat([x, x**2, torch.sin(5 * x), torch.cos(7 * x)], dim=1)
        return [fine, F.avg_pool3d(features, 16)]


def _volume(root, name, image):
    meta = {
        "key": name,
        "subject_id": name,
        "affine": np.eye(4).tolist(),
        "spacing_mm": [1.0, 1.0, 1.0],
        "size_vox": list(image.shape),
        "background_value": 0.0,
    }
    assert write_entry(root / name, root / ".staging", image=image[None], label=None, meta=meta)
    return CachedVolume(root / name)


@pytest.fixture(scope="module")
def volumes(tmp_path_factory):
    root = tmp_path_factory.mktemp("matcher")
    rng = np.random.default_rng(0)
    source = rng.normal(size=SHAPE).astype(np.float32)
    shifted = rng.normal(size=SHAPE).astype(np.float32)
    shifted[SHIFT:] = source[:-SHIFT]  # the anatomy at voxel v of source is at v + SHIFT here
    unrelated = rng.normal(size=SHAPE).astype(np.float32)
    return (
        _volume(root, "source", source),
        _volume(root, "shifted", shifted),
        _volume(root, "unrelated", unrelated),
    )


def _fine_cell_centres(count, seed):
    """Points at centres of stride-2 cells, inside the part of the source the shift keeps."""
    rng = np.random.default_rng(seed)
    cells = rng.integers(0, [(SHAPE[0] - SHIFT) // 2, SHAPE[1] // 2, SHAPE[2] // 2], (count, 3))
    return cells * 2 + 0.5


def test_a_planted_point_is_found_exactly_in_a_shifted_copy(volumes):
    source, shifted, _ = volumes
    matcher = EmbeddingMatcher(LocalTextureEncoder(), tile_vox=32, threshold=0.9)
    points = _fine_cell_centres(40, seed=1)
    matches = matcher.match(source, points, shifted)
    assert matches.accepted.all() and matches.acceptance_rate == 1.0
    np.testing.assert_allclose(matches.points_mm, points + np.array([SHIFT, 0, 0]))
    # the coarse map, interpolated between blocks, differs slightly next to the new block
    np.testing.assert_allclose(matches.similarity, 1.0, atol=1e-4)


def test_matches_below_the_threshold_are_refused(volumes):
    source, shifted, unrelated = volumes
    matcher = EmbeddingMatcher(LocalTextureEncoder(), tile_vox=32, threshold=0.99)
    points = _fine_cell_centres(20, seed=2)
    refused = matcher.match(source, points, unrelated)
    assert not refused.accepted.any() and np.isnan(refused.points_mm).all()
    assert (refused.similarity < 0.99).all()
    assert matcher.match(source, points, shifted).accepted.all()


def test_searching_every_coarse_block_equals_the_exhaustive_argmax(volumes):
    source, _, unrelated = volumes
    matcher = EmbeddingMatcher(LocalTextureEncoder(), tile_vox=32)
    target = matcher.embed(unrelated)
    queries = matcher.embed(source).sample(_fine_cell_centres(30, seed=3))
    blocks = int(np.prod([n // 8 for n in target.grid_size]))  # 16 / 2 fine cells per block
    cell, similarity = coarse_to_fine_search(queries, target, coarse_candidates=blocks)
    exhaustive = queries @ target.flat_features().T  # (N, M)
    np.testing.assert_array_equal(cell, exhaustive.argmax(dim=1).numpy())
    np.testing.assert_allclose(similarity, exhaustive.max(dim=1).values.numpy(), atol=1e-6)


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="fine and a coarse"):
        EmbeddingMatcher(LocalTextureEncoder(), scales=(0,))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="coarse_candidates"):
        EmbeddingMatcher(LocalTextureEncoder(), coarse_candidates=0)
