"""`anatomy-ssl export`: a run's encoder -> `encoder.safetensors` + `card.json`."""

from __future__ import annotations

from pathlib import Path

import typer


def export(
    run: Path = typer.Argument(..., help="Pretraining run folder."),
    out: Path = typer.Option(..., "--out", "-o", help="Export folder."),
    checkpoint: Path | None = typer.Option(None, help="A checkpoint other than last.ckpt."),
) -> None:
    """Export the pretrained encoder with a card saying how to build it and preprocess input."""
    from anatomy_ssl.export import export_run, read_card

    folder = export_run(run, out, checkpoint=checkpoint)
    card = read_card(folder)
    typer.echo(
        f"exported {card['encoder']['name']} ({card['method']}, step {card['step']}, "
        f"embedding width {card['embed_dim']}) -> {folder}"
    )
