"""`anatomy-ssl inspect`: what a volume file or a cache folder holds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import typer
from nibabel.orientations import aff2axcodes

from anatomy_ssl.errors import ConfigError
from anatomy_ssl.io import read_volume
from anatomy_ssl.preprocess import VolumeCache


def _describe_cache(cache: VolumeCache) -> None:
    for spec_hash in cache.spec_hashes():
        entries = cache.entries(spec_hash)
        splits: dict[str, int] = {}
        for entry in entries:
            splits[str(entry.split)] = splits.get(str(entry.split), 0) + 1
        labelled = sum(e.has_label for e in entries)
        typer.echo(
            f"spec {spec_hash}: {len(entries)} entries ({labelled} with labels), splits {splits}"
        )
        typer.echo(f"  {cache.spec(spec_hash)}")


def inspect(
    path: Path = typer.Argument(..., help="A volume file, DICOM folder, or cache folder."),
    dims: int = typer.Option(3, "--dims", help="3 for volumes, 2 for radiographs."),
    series_uid: str | None = typer.Option(None, help="DICOM series to read, if several."),
) -> None:
    """Print shape, spacing, orientation and intensity range of a volume (or a cache summary)."""
    if dims not in (2, 3):
        raise ConfigError(f"--dims must be 2 or 3, got {dims}")
    cache = VolumeCache(path)
    if path.is_dir() and cache.spec_hashes():
        _describe_cache(cache)
        return
    volume = read_volume(path, spatial_dims=dims, series_uid=series_uid)
    array = volume.array
    typer.echo(f"file:        {volume.source}")
    typer.echo(f"format:      {volume.metadata.get('format', '?')}")
    typer.echo(f"shape:       {tuple(array.shape)} (C, spatial...) dtype {array.dtype}")
    typer.echo(f"spacing mm:  {tuple(round(s, 4) for s in volume.spacing_mm)}")
    if volume.spatial_dims == 3:
        typer.echo(f"orientation: {''.join(str(c) for c in aff2axcodes(volume.affine))}")
    typer.echo(
        f"intensity:   min {array.min():.4g}, max {array.max():.4g}, mean {array.mean():.4g}"
    )
    typer.echo(
        "affine (RAS mm):\n" + np.array2string(volume.affine, precision=4, suppress_small=True)
    )
