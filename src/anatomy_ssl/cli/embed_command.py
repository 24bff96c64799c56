"""`anatomy-ssl embed`: per-volume embeddings (and optional dense maps) from an exported encoder."""

from __future__ import annotations

from pathlib import Path

import typer


def embed(
    encoder: Path = typer.Option(..., "--encoder", help="Exported encoder folder."),
    data: Path = typer.Option(..., "--data", help="A manifest (CSV / JSON / folder) or a cache."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder."),
    split: str = typer.Option("all", help="Only this split ('all' embeds every volume)."),
    tile: int = typer.Option(64, min=1, help="Tile side in voxels for whole-volume inference."),
    batch_size: int = typer.Option(4, min=1, help="Tiles per forward pass."),
    dense: bool = typer.Option(False, "--dense", help="Also write dense feature maps."),
    workers: int = typer.Option(1, "--workers", "-j", min=1, help="Preprocessing processes."),
    device: str = typer.Option("cpu", help="cpu or cuda."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
) -> None:
    """Embed every volume with the encoder's own preprocessing; writes CSV + NPY (+ dense/)."""
    from anatomy_ssl.embedding import embed_dataset

    folder = embed_dataset(
        encoder,
        data,
        out,
        split=split,
        tile_vox=tile,
        batch_size=batch_size,
        dense=dense,
        workers=workers,
        device=device,
        progress=progress,
    )
    typer.echo(f"embeddings -> {folder / 'embeddings.csv'} and {folder / 'embeddings.npy'}")
