"""`anatomy-ssl evaluate`: run protocols on one exported encoder and one dataset."""

from __future__ import annotations

from pathlib import Path

import typer

from anatomy_ssl.cli.config_overrides import parse_overrides


def evaluate(
    encoder: Path = typer.Option(..., "--encoder", help="Exported encoder folder."),
    data: Path = typer.Option(..., "--data", help="Dataset folder (built-in layout) or manifest."),
    out: Path = typer.Option(..., "--out", "-o", help="Records folder."),
    protocol: list[str] = typer.Option(
        ...,
        "--protocol",
        "-p",
        help="few_shot_segmentation | correspondence | locality | compositionality | "
        "patient_prediction (repeat for several).",
    ),
    method: str | None = typer.Option(None, help="Label in the records (default: the card's)."),
    label_set: str | None = typer.Option(None, help="Label set of a built-in folder (level2)."),
    device: str = typer.Option("cpu", help="cpu or cuda."),
    workers: int = typer.Option(
        1,
        "--workers",
        "-j",
        min=1,
        help="Preprocessing processes, and few-shot runs trained at once on the CPU.",
    ),
    rerun: bool = typer.Option(False, "--rerun", help="Run protocols whose records exist."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show progress bars."),
    overrides: list[str] = typer.Argument(
        None, help="Protocol settings, e.g. few_shot_segmentation.k=[1,5] locality.k=3."
    ),
) -> None:
    """Evaluate an encoder: one JSON record per (protocol, seed), metrics printed."""
    from anatomy_ssl.evaluation.encoder_evaluation import evaluate_encoder
    from anatomy_ssl.evaluation.protocol_registry import split_protocol_overrides

    records = evaluate_encoder(
        encoder,
        data,
        out,
        protocols=protocol,
        settings=split_protocol_overrides(parse_overrides(list(overrides or []))),
        method=method,
        label_set=label_set,
        device=device,
        workers=workers,
        skip_done=not rerun,
        progress=progress,
    )
    if not records:
        typer.echo(f"every record already exists in {out} (pass --rerun to run again)")
    for record in records:
        shown = ", ".join(f"{k} {v:.3g}" for k, v in record.metrics.items())
        typer.echo(
            f"{record.dataset} / {record.method} / {record.protocol} seed {record.seed}: {shown}"
        )
    typer.echo(f"records -> {out}")
