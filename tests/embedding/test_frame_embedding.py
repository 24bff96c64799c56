"""Per-location and patient embeddings of an anatomical frame: each patch encoded with its own
location (checked against calling the encoder by hand), plain encoders too, invalid locations NaN
and left out of the mean, batch size without effect, and clear errors."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from anatomy_ssl.anatomy import build_frame
from anatomy_ssl.data import AnatomicalFrame, load_frame
from anatomy_ssl.embedding import location_embeddings, patient_embedding
from anatomy_ssl.embedding.dense_feature_extraction import pooled_crop_embeddings
from anatomy_ssl.models import create_encoder
from anatomy_ssl.preprocess import CachedVolume, PreprocessSpec, VolumeCache
from support.blob_phantom import AFFINE, phantom
from support.coordinate_volumes import write_test_entry

SHIFTS = {"s0": (0, 0, 0), "s1": (2, -1, 1)}


@pytest.fixture(scope="module")
def framed(tmp_path_factory) -> tuple[AnatomicalFrame, dict[str, CachedVolume]]:
    """A frame (8-voxel patches) of two shifted phantoms, and their entries by key."""
    root = tmp_path_factory.mktemp("framed") / "cache"
    folder = VolumeCache(root).register_spec(PreprocessSpec())
    volumes = {
        name: write_test_entry(folder, name, phantom(s), AFFINE) for name, s in SHIFTS.items()
    }
    report = build_frame(root, patch_vox=8, stride_vox=4, progress=False)
    return load_frame(root, report.frame_id), volumes


def _with_valid(frame: AnatomicalFrame, row: int, valid: np.ndarray) -> AnatomicalFrame:
    """The frame with subject `row`'s validity replaced."""
    mask = frame.valid.copy()
    mask[row] = valid
    return dataclasses.replace(frame, valid=mask)


def _patch(frame: AnatomicalFrame, volume: CachedVolume, row: int, location: int) -> torch.Tensor:
    """`(1, C, *patch_vox)` float32, cut by the cache's own crop reader."""
    crop = volume.crops_at_centers(
        frame.centres_vox[row, location], frame.locations.patch_vox, with_label=False
    ).image
    return torch.from_numpy(crop.astype(np.float32))


def test_each_patch_is_encoded_with_its_own_location(framed):
    frame, volumes = framed
    torch.manual_seed(0)
    encoder = create_encoder("test_drasclr", spatial_dims=3)  # left in training mode
    row = frame.subject_index("s1")
    assert frame.valid[row].sum() >= 3
    embeddings, valid = location_embeddings(encoder, frame, volumes, "s1", batch_size=4)
    assert encoder.training  # the mode is restored
    assert embeddings.shape == (frame.locations.count, encoder.embed_dim)
    assert embeddings.dtype == np.float32
    np.testing.assert_array_equal(valid, frame.valid[row])
    normalized = torch.as_tensor(frame.locations.normalized, dtype=torch.float32)  # (L, S)
    encoder.eval()
    with torch.no_grad():
        for location in np.flatnonzero(valid):
            x = _patch(frame, volumes["s1"], row, location)
            expected = encoder.forward_pooled(x, normalized[location : location + 1])[0]
            np.testing.assert_allclose(embeddings[location], expected.numpy(), atol=1e-5)
        first = np.flatnonzero(valid)[0]
        elsewhere = (first + 1) % frame.locations.count
        x = _patch(frame, volumes["s1"], row, first)
        other = encoder.forward_pooled(x, normalized[elsewhere : elsewhere + 1])[0]
    assert not np.allclose(embeddings[first], other.numpy(), atol=1e-4)  # location matters


def test_a_plain_encoder_gets_the_patches_alone(framed):
    frame, volumes = framed
    torch.manual_seed(1)
    encoder = create_encoder("test_resunet", spatial_dims=3)
    embeddings, valid = location_embeddings(encoder, frame, volumes, "s0")
    chosen = np.flatnonzero(valid)
    crops = (
        volumes["s0"]
        .crops_at_centers(
            frame.centres_vox[frame.subject_index("s0"), chosen],
            frame.locations.patch_vox,
            with_label=False,
        )
        .image
    )
    expected = pooled_crop_embeddings(encoder, crops.astype(np.float32))
    np.testing.assert_allclose(embeddings[chosen], expected.numpy(), atol=1e-5)


def test_invalid_locations_are_nan_and_left_out_of_the_mean(framed):
    frame, volumes = framed
    torch.manual_seed(2)
    encoder = create_encoder("test_drasclr", spatial_dims=3)
    row = frame.subject_index("s0")
    full, _ = location_embeddings(encoder, frame, volumes, "s0", batch_size=16)
    valid = frame.valid[row].copy()
    valid[np.flatnonzero(valid)[::2]] = False  # drop every other usable location
    embeddings, returned = location_embeddings(
        encoder, _with_valid(frame, row, valid), volumes, "s0", batch_size=16
    )
    np.testing.assert_array_equal(returned, valid)
    assert np.isnan(embeddings[~valid]).all() and np.isfinite(embeddings[valid]).all()
    np.testing.assert_allclose(embeddings[valid], full[valid], atol=1e-5)
    pooled = patient_embedding(embeddings, valid)
    assert pooled.shape == (encoder.embed_dim,) and pooled.dtype == np.float32
    np.testing.assert_allclose(pooled, full[valid].mean(axis=0), rtol=1e-5, atol=1e-6)
    assert not np.allclose(pooled, full[frame.valid[row]].mean(axis=0), atol=1e-6)


def test_the_batch_size_does_not_change_the_embeddings(framed):
    frame, volumes = framed
    torch.manual_seed(3)
    encoder = create_encoder("test_drasclr", spatial_dims=3)
    one, _ = location_embeddings(encoder, frame, volumes, "s1", batch_size=1)
    many, _ = location_embeddings(encoder, frame, volumes, "s1", batch_size=5)
    np.testing.assert_allclose(one, many, atol=1e-5)


def test_a_subject_without_a_valid_location_is_refused_clearly(framed):
    frame, volumes = framed
    encoder = create_encoder("test_drasclr", spatial_dims=3)
    row = frame.subject_index("s1")
    empty = _with_valid(frame, row, np.zeros(frame.locations.count, dtype=bool))
    embeddings, valid = location_embeddings(encoder, empty, volumes, "s1")
    assert not valid.any() and np.isnan(embeddings).all()
    with pytest.raises(ValueError, match=r"no valid location to pool \(0 of"):
        patient_embedding(embeddings, valid)


def test_bad_arguments_are_refused_clearly(framed):
    frame, volumes = framed
    encoder = create_encoder("test_drasclr", spatial_dims=3)
    with pytest.raises(ValueError, match=r"unknown pooling 'attention'; supported: mean"):
        patient_embedding(np.zeros((3, 2)), np.ones(3, dtype=bool), pooling="attention")
    with pytest.raises(ValueError, match="embeddings must be"):
        patient_embedding(np.zeros((3, 2)), np.ones(2, dtype=bool))
    with pytest.raises(KeyError, match="'nobody' is not in frame"):
        location_embeddings(encoder, frame, volumes, "nobody")
    with pytest.raises(KeyError, match=r"'s1' of frame .* has no volume given"):
        location_embeddings(encoder, frame, {"s0": volumes["s0"]}, "s1")
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        location_embeddings(encoder, frame, volumes, "s0", batch_size=0)
    flat = create_encoder("test_drasclr", spatial_dims=2)
    with pytest.raises(ValueError, match=r"in 2D; frame .* is 3D"):
        location_embeddings(flat, frame, volumes, "s0")
