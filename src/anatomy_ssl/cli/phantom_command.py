"""`anatomy-ssl phantom`: write the synthetic anatomical phantom (3D CT or 2D radiographs)."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import typer

from anatomy_ssl.errors import ConfigError
from anatomy_ssl.phantoms.ct_phantom import make_ct_phantom_dataset, make_ct_phantom_subject
from anatomy_ssl.phantoms.phantom_montage import save_montage
from anatomy_ssl.phantoms.torso_parameters import PRESET_SIZES, Preset
from anatomy_ssl.phantoms.xray_phantom import make_xray_phantom_dataset

MONTAGE_SUBJECTS = 3


def parse_size(text: str | None) -> tuple[int, int, int] | None:
    """'96x96x128' -> (96, 96, 128)."""
    if text is None:
        return None
    try:
        x, y, z = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise ConfigError(f"--size must look like 96x96x128, got {text!r}") from None
    if min(x, y, z) < 16:
        raise ConfigError(f"--size must be at least 16 voxels per axis, got {text!r}")
    return x, y, z


def phantom(
    out: Path = typer.Option(..., "--out", "-o", help="Output folder."),
    n: int = typer.Option(10, "--n", min=1, help="Number of subjects."),
    seed: int = typer.Option(0, help="Seed: subject k depends only on (seed, k)."),
    preset: str = typer.Option("default", help="small | default | hard."),
    size: str | None = typer.Option(
        None, help="Volume size XxYxZ in voxels (default: the preset's, e.g. 96x96x128)."
    ),
    modality: str = typer.Option("ct", help="ct (3D volumes) or xray (2D radiographs)."),
    workers: int = typer.Option(2, "--workers", "-j", min=1, help="Generation processes."),
    montage: bool = typer.Option(True, "--montage/--no-montage", help="Write montage.png."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
) -> None:
    """Generate phantom subjects with labels, landmarks, clinical table and a manifest."""
    if preset not in PRESET_SIZES:
        raise ConfigError(f"--preset must be one of {sorted(PRESET_SIZES)}, got {preset!r}")
    if modality not in ("ct", "xray"):
        raise ConfigError(f"--modality must be ct or xray, got {modality!r}")
    volume_size = parse_size(size)
    checked_preset = cast(Preset, preset)
    if modality == "ct":
        manifest = make_ct_phantom_dataset(
            out,
            n,
            seed=seed,
            preset=checked_preset,
            size=volume_size,
            workers=workers,
            progress=progress,
        )
    else:
        manifest = make_xray_phantom_dataset(
            out,
            n,
            seed=seed,
            preset=checked_preset,
            size=volume_size,
            workers=workers,
            progress=progress,
        )
    typer.echo(f"{len(manifest)} {modality} subjects -> {out} (manifest: {out / 'manifest.csv'})")
    if montage and modality == "ct":
        subjects = [
            make_ct_phantom_subject(k, seed=seed, preset=checked_preset, size=volume_size)
            for k in range(min(n, MONTAGE_SUBJECTS))
        ]
        typer.echo(f"montage: {save_montage(subjects, out / 'montage.png')}")
