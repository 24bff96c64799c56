import numpy as np
import torch

from anatomy_ssl.embedding import embed_volume
from anatomy_ssl.models import create_encoder
from anatomy_ssl.preprocess import CachedVolume
from anatomy_ssl.preprocess.cache_entry import write_entry


def _encoder():
    torch.manual_seed(0)
    return create_encoder("test_resunet", spatial_dims=3, in_channels=1).eval()


def _one_entry(folder, image, affine):
    meta = {
        "key": "one",
        "subject_id": "one",
        "split": None,
        "affine": affine.tolist(),
        "spacing_mm": np.abs(np.diag(affine)[:3]).tolist(),
        "size_vox": list(image.shape[1:]),
        "background_value": 0.0,
    }
    write_entry(folder / "entries" / "one", folder / ".staging", image=image, label=None, meta=meta)
    return CachedVolume(folder / "entries" / "one")


def test_a_volume_of_one_tile_gives_the_encoders_pooled_embedding(phantom_eval_data, tmp_path):
    encoder, volume = _encoder(), phantom_eval_data.volumes[0]
    tile = 32
    start = np.zeros((1, 3), dtype=np.int64)
    crop = volume.crops(start, (tile,) * 3, with_label=False).image  # (1, 1, 32, 32, 32)
    with torch.inference_mode():
        expected = encoder.forward_pooled(torch.from_numpy(np.asarray(crop, np.float32)))[0]
    single = _one_entry(tmp_path, crop[0], volume.affine)  # a volume that is exactly one tile
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
