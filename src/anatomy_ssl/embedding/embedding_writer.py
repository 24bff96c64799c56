"""`embed_dataset`: embed every volume of a manifest or cache with an exported encoder.

Writes `<out>/embeddings.csv` (subject_id, split, e0..e{D-1}), `<out>/embeddings.npy` `(N, D)`
float32 in the same row order, `<out>/embeddings.json` (encoder card summary, preprocessing
hash, tile size, pooling) and, with `dense=True`, `<out>/dense/<subject_id>.npy` `(D, *grid)`
maps. Pooled over an anatomical frame (`frame=`; always for a location-conditioned encoder), a
row is the mean of the volume's location embeddings, and `<out>/locations.npy` `(N, L, D)`
float32 holds every location's embedding (NaN where the frame does not reach the volume).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from anatomy_ssl.embedding.frame_pooled_embeddings import frame_pooled_embeddings
from anatomy_ssl.embedding.volume_embedding import embed_volume
from anatomy_ssl.errors import ConfigError, InputError
from anatomy_ssl.export import load_encoder, read_card
from anatomy_ssl.manifests import load_manifest
from anatomy_ssl.models import Encoder
from anatomy_ssl.preprocess import CachedVolume, PreprocessSpec, VolumeCache, preprocess_dataset


def embed_dataset(
    encoder_dir: str | Path,
    data: str | Path,
    out: str | Path,
    *,
    split: str = "all",
    tile_vox: int = 64,
    batch_size: int = 4,
    dense: bool = False,
    cache_dir: str | Path | None = None,
    frame: Mapping[str, Any] | None = None,
    workers: int = 1,
    device: str = "cpu",
    progress: bool = True,
) -> Path:
    """Embed the volumes of `data` (a manifest, folder or cache) into `out`.

    A manifest is first preprocessed with the encoder card's PreprocessSpec into `cache_dir`
    (default `<out>/cache`), so inputs match what the encoder was trained on; a cache must hold
    entries made with that same spec.

    Args:
        frame: pool over an anatomical frame built (once) on the cache with these
            `build_frame` settings (`FRAME_SETTINGS`) instead of over the whole volume. A
            location-conditioned encoder is always pooled over a frame; by default its patches
            are its pretraining crop (the card's `data.crop_size_vox`).
        workers: preprocessing (and registration) processes.

    Returns:
        `out`.

    Raises:
        InputError: no preprocessing on the card, no volumes, a frame that serves fewer than
            two volumes.
        ConfigError: dense maps asked of a location-conditioned encoder.
    """
    encoder_dir, out = Path(encoder_dir), Path(out)
    card = read_card(encoder_dir)
    if card.get("preprocess") is None:
        raise InputError(encoder_dir / "card.json", "card has no preprocessing spec to apply")
    spec = PreprocessSpec.from_dict(card["preprocess"], source=str(encoder_dir / "card.json"))
    entries = _entries(Path(data), spec, Path(cache_dir) if cache_dir else out / "cache", workers)
    if split != "all":
        entries = [entry for entry in entries if entry.split == split]
    if not entries:
        raise InputError(Path(data), f"no volumes to embed (split {split!r})")
    encoder = load_encoder(encoder_dir, device=device)
    if encoder.requires_location:
        if dense:
            raise ConfigError(
                f"{encoder_dir}: the encoder needs each patch's location; it has no dense maps "
                "of whole volumes (embed it without --dense)"
            )
        crop = ((card.get("config") or {}).get("data") or {}).get("crop_size_vox", 32)
        frame = {"patch_vox": crop, **(frame or {})}
    out.mkdir(parents=True, exist_ok=True)
    pooling: dict[str, Any] = {"pooling": "volume", "tile_vox": tile_vox}
    if frame is not None:
        pooled = frame_pooled_embeddings(
            encoder, entries, frame, workers=workers, device=device, progress=progress
        )
        entries, matrix = list(pooled.volumes), pooled.embeddings  # (N, D)
        np.save(out / "locations.npy", np.stack(pooled.locations))  # (N, L, D)
        pooling = {
            "pooling": "frame",
            "frame": str(pooled.frame_folder),
            "frame_settings": dict(frame),
            "left_out": list(pooled.notes),
        }
    else:
        matrix = _volume_embeddings(
            encoder, entries, out, tile_vox, batch_size, dense, device, progress
        )
    np.save(out / "embeddings.npy", matrix)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["subject_id", "split", *(f"e{i}" for i in range(matrix.shape[1]))])
    for entry, row in zip(entries, matrix, strict=True):
        writer.writerow([entry.subject_id, entry.split or "", *(f"{v:.6g}" for v in row)])
    (out / "embeddings.csv").write_text(buffer.getvalue())
    summary = {
        "encoder_dir": str(encoder_dir.resolve()),
        "encoder": card["encoder"],
        "method": card["method"],
        "preprocess_hash": spec.hash,
        **pooling,
        "volumes": len(entries),
        "embed_dim": int(matrix.shape[1]),
        "torch": torch.__version__,
    }
    (out / "embeddings.json").write_text(json.dumps(summary, indent=2))
    return out


def _volume_embeddings(
    encoder: Encoder,
    entries: list[CachedVolume],
    out: Path,
    tile_vox: int,
    batch_size: int,
    dense: bool,
    device: str,
    progress: bool,
) -> np.ndarray:
    """`(N, D)` whole-volume embeddings; dense maps written to `<out>/dense/` when asked."""
    if dense:
        (out / "dense").mkdir(exist_ok=True)
    rows = []
    for entry in tqdm(entries, desc="embed", unit="volume", disable=not progress):
        result = embed_volume(
            encoder, entry, tile_vox=tile_vox, batch_size=batch_size, dense=dense, device=device
        )
        rows.append(result.embedding)
        if result.dense is not None:
            np.save(out / "dense" / f"{entry.subject_id}.npy", result.dense)
    return np.stack(rows)  # (N, D)


def _entries(data: Path, spec: PreprocessSpec, cache_dir: Path, workers: int) -> list[CachedVolume]:
    if not data.exists():
        raise InputError(data, "data not found (expected a manifest, a folder or a cache)")
    if data.is_dir() and VolumeCache(data).spec_hashes():
        cache = VolumeCache(data)
        if spec.hash not in cache.spec_hashes():
            raise InputError(
                data,
                f"cache has no entries made with the encoder's preprocessing {spec.hash} "
                f"(it has {', '.join(cache.spec_hashes())}); pass the source manifest instead",
            )
        return cache.entries(spec.hash)
    manifest = load_manifest(data)
    preprocess_dataset(manifest, spec, cache_dir, workers=workers, progress=False)
    return VolumeCache(cache_dir).entries(spec.hash)
