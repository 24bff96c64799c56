"""`anatomy-ssl benchmark`: run a suite (pretrain every method, evaluate, report)."""

from __future__ import annotations

from pathlib import Path

import typer

from anatomy_ssl.cli.config_overrides import parse_overrides


def benchmark(
    suite: str = typer.Option(
        "smoke", "--suite", "-s", help="smoke | demo | cpu | gpu | a YAML file."
    ),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="Suite folder (default: ./bench-<suite>)."
    ),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show progress bars."),
    overrides: list[str] = typer.Argument(
        None, help="Suite keys, e.g. pretraining.steps=50 methods=[scratch,simclr]."
    ),
) -> None:
    """Pretrain each method under one budget, run the protocols, write the report. Resumable."""
    from anatomy_ssl.benchmarking.suite_config import load_suite
    from anatomy_ssl.benchmarking.suite_runner import run_suite

    resolved = load_suite(suite, parse_overrides(list(overrides or [])))
    folder = out or Path(f"bench-{resolved.name}")
    result = run_suite(resolved, folder, progress=progress)
    typer.echo(f"records: {result.records}")
    typer.echo(f"report:  {result.report.markdown}\n         {result.report.html}")
