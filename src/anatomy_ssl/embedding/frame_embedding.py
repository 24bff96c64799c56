"""DrasCLR's per-location and patient-level embeddings: every valid location of a subject's
anatomical frame encoded (with its own location when the encoder is location-conditioned), and
the locations pooled into one vector per patient (Yu et al., "DrasCLR: A Self-supervised
Framework of Learning Disease-related and Anatomy-specific Representation for 3D Medical Images",
2023).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import torch

from anatomy_ssl.data import AnatomicalFrame, read_frame_patches
from anatomy_ssl.embedding.dense_feature_extraction import evaluation_mode
from anatomy_ssl.models import Encoder
from anatomy_ssl.preprocess import CachedVolume

#: Poolings `patient_embedding` supports. Attention pooling learns its weights from a target, so
#: it is a probe (`anatomy_ssl.evaluation.attention_pooling_probe`), not an embedding.
POOLINGS = ("mean",)


def location_embeddings(
    encoder: Encoder,
    frame: AnatomicalFrame,
    volumes_by_key: Mapping[str, CachedVolume],
    key: str,
    *,
    batch_size: int = 16,
    device: str | torch.device = "cpu",
) -> tuple[np.ndarray, np.ndarray]:
    """The pooled embedding of every valid location of one framed subject.

    Each valid location's patch (`frame.locations.patch_vox`, centred on the subject's
    `frame.centres_vox`) is read with `read_frame_patches` and encoded with `forward_pooled`,
    `batch_size` patches at a time, in eval and inference mode (the encoder's mode is restored).
    A location-conditioned encoder (`encoder.requires_location`) also gets each patch's own
    normalized location `frame.locations.normalized`, `(b, S)` float32 in [-1, 1].

    Args:
        encoder: the encoder, with S spatial dims and the volume's channel count.
        frame: the anatomical frame holding the subject.
        volumes_by_key: cache entries by entry key; must hold `key`.
        key: the subject's entry key.
        batch_size: patches per forward pass (does not change the result beyond float noise).
        device: where the encoder runs.

    Returns:
        `(embeddings, valid)`: `(L, D)` float32 on the CPU, rows of invalid locations NaN, and
        `(L,)` bool, the subject's validity mask (all False: nothing is encoded).

    Raises:
        KeyError: `key` is not in the frame or not in `volumes_by_key`.
        ValueError: a batch size below 1, or an encoder whose spatial dims or input channels do
            not match the frame and volume.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    row = frame.subject_index(key)
    if key not in volumes_by_key:
        raise KeyError(f"subject entry {key!r} of frame {frame.frame_id} has no volume given")
    volume = volumes_by_key[key]
    dims = frame.centres_vox.shape[-1]
    if encoder.spatial_dims != dims or encoder.in_channels != volume.channels:
        raise ValueError(
            f"the encoder takes {encoder.in_channels} channel(s) in {encoder.spatial_dims}D; "
            f"frame {frame.frame_id} is {dims}D and volume {key!r} has {volume.channels} "
            "channel(s)"
        )
    valid = frame.valid[row].copy()  # (L,)
    embeddings = np.full((len(valid), encoder.embed_dim), np.nan, dtype=np.float32)  # (L, D)
    locations = np.flatnonzero(valid)  # (V,)
    # `Encoder.forward_pooled` takes only x; a location-conditioned encoder's takes (x, location).
    pooled: Callable[..., torch.Tensor] = encoder.forward_pooled
    with evaluation_mode(encoder):
        for first in range(0, len(locations), batch_size):
            chosen = locations[first : first + batch_size]  # (b,)
            patches = read_frame_patches(
                [volume],
                np.zeros(len(chosen), dtype=np.int64),
                frame.centres_vox[row, chosen],
                frame.locations.patch_vox,
            )  # (b, C, *patch_vox)
            x = torch.from_numpy(patches).to(device)
            if encoder.requires_location:
                where = frame.locations.normalized[chosen].astype(np.float32)  # (b, S)
                output = pooled(x, torch.from_numpy(where).to(device))
            else:
                output = pooled(x)
            embeddings[chosen] = output.float().cpu().numpy()  # (b, D)
    return embeddings, valid


def patient_embedding(
    embeddings: np.ndarray, valid: np.ndarray, pooling: str = "mean"
) -> np.ndarray:
    """One vector per patient from its per-location embeddings (DrasCLR's patient-level
    representation).

    Args:
        embeddings: `(L, D)` per-location embeddings (rows of invalid locations are ignored and
            may be NaN).
        valid: `(L,)` bool, which locations to pool.
        pooling: "mean", the mean over valid locations.

    Returns:
        `(D,)` float32.

    Raises:
        ValueError: an unsupported pooling, mismatched shapes, or no valid location.
    """
    if pooling not in POOLINGS:
        raise ValueError(f"unknown pooling {pooling!r}; supported: {', '.join(POOLINGS)}")
    vectors = np.asarray(embeddings)
    mask = np.asarray(valid, dtype=bool)
    if vectors.ndim != 2 or mask.shape != vectors.shape[:1]:
        raise ValueError(
            f"embeddings must be (L, D) and valid (L,); got shapes {vectors.shape} and {mask.shape}"
        )
    if not mask.any():
        raise ValueError(
            f"no valid location to pool (0 of {len(mask)}): the subject serves no location of "
            "the frame"
        )
    return np.asarray(vectors[mask].mean(axis=0), dtype=np.float32)  # (D,)
