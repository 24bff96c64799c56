"""`anatomy-ssl report`: Markdown + HTML report from a folder of evaluation records."""

from __future__ import annotations

from pathlib import Path

import typer


def report(
    records: Path = typer.Argument(..., help="Records folder (from evaluate or benchmark)."),
    out: Path = typer.Option(..., "--out", "-o", help="Report folder."),
    runs: Path | None = typer.Option(None, "--runs", help="Pretraining runs (loss curves)."),
    title: str = typer.Option("anatomy-ssl benchmark report", help="Report title."),
) -> None:
    """Tables with bootstrap intervals and significance, plots, one self-contained HTML page."""
    from anatomy_ssl.reporting import write_report

    paths = write_report(records, out, runs_dir=runs, title=title)
    typer.echo(f"report: {paths.markdown}\n        {paths.html} ({len(paths.plots)} plots)")
