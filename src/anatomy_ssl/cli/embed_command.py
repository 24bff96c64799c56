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
    frame: bool = typer.Option(
        False,
        "--frame",
        help="Pool over an anatomical frame (DrasCLR's patient embedding; always for an encoder "
        "that needs locations) and write every location's embedding to locations.npy.",
    ),
    frame_patch: int | None = typer.Option(
        None, "--frame-patch", min=1, help="Frame patch size in voxels (default: the card's crop)."
    ),
    frame_stride: int | None = typer.Option(
        None, "--frame-stride", min=1, help="Frame stride in voxels (default: 26)."
    ),
    region_labels: str | None = typer.Option(
        None,
        "--region-labels",
        help="Label values of the frame's region, e.g. 1,2 for the lungs (default: the body).",
    ),
    workers: int = typer.Option(1, "--workers", "-j", min=1, help="Preprocessing processes."),
    device: str = typer.Option("cpu", help="cpu or cuda."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
) -> None:
    """Embed every volume with the encoder's own preprocessing; writes CSV + NPY (+ dense/, or
    locations.npy over a frame)."""
    from anatomy_ssl.cli.frame_command import parse_region_labels
    from anatomy_ssl.embedding import embed_dataset

    settings: dict[str, object] = {
        key: value
        for key, value in (
            ("patch_vox", frame_patch),
            ("stride_vox", frame_stride),
            ("region_labels", parse_region_labels(region_labels)),
        )
        if value is not None
    }
    framed = frame or bool(settings)

    folder = embed_dataset(
        encoder,
        data,
        out,
        split=split,
        tile_vox=tile,
        batch_size=batch_size,
        dense=dense,
        frame=settings if framed else None,
        workers=workers,
        device=device,
        progress=progress,
    )
    typer.echo(f"embeddings -> {folder / 'embeddings.csv'} and {folder / 'embeddings.npy'}")
