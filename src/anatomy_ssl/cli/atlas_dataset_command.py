"""`anatomy-ssl atlas-dataset`: write the real-anatomy MRI set built from the ICBM152 template."""

from __future__ import annotations

from pathlib import Path

import typer

from anatomy_ssl.phantoms.atlas_mri_dataset import make_atlas_dataset, make_atlas_subject
from anatomy_ssl.phantoms.phantom_montage import save_montage

MONTAGE_SUBJECTS = 3
MRI_DISPLAY_WINDOW = (0.0, 1000.0)


def atlas_dataset(
    out: Path = typer.Option(..., "--out", "-o", help="Output folder."),
    n: int = typer.Option(20, "--n", min=1, help="Number of subjects."),
    seed: int = typer.Option(0, help="Seed: subject k depends only on (seed, k)."),
    preset: str = typer.Option("default", help="small (3 mm) | default (2 mm) | hard (2 mm)."),
    resolution: float | None = typer.Option(
        None, "--resolution", help="Isotropic voxel size in mm (default: the preset's)."
    ),
    workers: int = typer.Option(2, "--workers", "-j", min=1, help="Generation processes."),
    montage: bool = typer.Option(True, "--montage/--no-montage", help="Write montage.png."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
) -> None:
    """Deformed ICBM152 brains with tissue labels, landmarks, a clinical table and a manifest."""
    manifest = make_atlas_dataset(
        out,
        n,
        seed=seed,
        preset=preset,
        resolution_mm=resolution,
        workers=workers,
        progress=progress,
    )
    typer.echo(f"{len(manifest)} atlas MRI subjects -> {out} (manifest: {out / 'manifest.csv'})")
    if montage:
        subjects = [
            make_atlas_subject(k, seed=seed, preset=preset, resolution_mm=resolution)
            for k in range(min(n, MONTAGE_SUBJECTS))
        ]
        path = save_montage(
            subjects,
            out / "montage.png",
            label_set="tissue",
            window=MRI_DISPLAY_WINDOW,
            centre_fraction=(0.5, 0.5, 0.5),
        )
        typer.echo(f"montage: {path}")
