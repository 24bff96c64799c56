import numpy as np
import torch

from anatomy_ssl.embedding import embed_volume
from anatomy_ssl.models import create_encoder
from support.coordinate_volumes import write_test_entry


def _encoder():
    torch.manual_seed(0)
    return create_encoder("test_resunet", spatial_dims=3, in_channels=1).eval()


def test_a_volume_of_one_tile_gives_the_encoders_pooled_embedding(phantom_eval_data, tmp_path):
    encoder, volume = _encoder(), phantom_eval_data.volumes[0]
    tile = 32
    start = np.zeros((1, 3), dtype=np.int64)
    crop = volume.crops(start, (tile,) * 3, with_label=False).image  # (1, 1, 32, 32, 32)
    with torch.inference_mode():
        expected = encoder.forward_pooled(torch.from_numpy(np.asarray(crop, np.float32)))[0]
    single = write_test_entry(
        tmp_path, "one", crop[0], volume.affine
    )  # a volume that is exactly one tile
    result = embed_volume(encoder, single, tile_vox=tile, dense=True)
    np.testing.assert_allclose(result.embedding, expected.numpy(), rtol=1e-5, atol=1e-6)
    stride = encoder.strides[-1]
    assert result.dense.shape == (encoder.embed_dim, *(tile // stride,) * 3)


def test_each_cell_counts_once_however_tiles_overlap(phantom_eval_data):
    encoder, volume = _encoder(), phantom_eval_data.volumes[1]
    small = embed_volume(encoder, volume, tile_vox=16, dense=True)  # many overlapping tiles
    assert small.dense is not None
    np.testing.assert_allclose(
        small.embedding, small.dense.reshape(len(small.dense), -1).mean(axis=1), rtol=1e-5
    )
    grid = tuple(-(-n // encoder.strides[-1]) for n in volume.size_vox)
    assert small.dense.shape[1:] == grid and np.isfinite(small.dense).all()
