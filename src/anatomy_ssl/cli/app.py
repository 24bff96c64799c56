"""The `anatomy-ssl` command: one Typer app; each verb is a thin layer over the library."""

from __future__ import annotations

import logging
import sys

import typer

from anatomy_ssl import __version__
from anatomy_ssl.cli.atlas_dataset_command import atlas_dataset
from anatomy_ssl.cli.benchmark_command import benchmark
from anatomy_ssl.cli.demo_command import demo
from anatomy_ssl.cli.embed_command import embed
from anatomy_ssl.cli.evaluate_command import evaluate
from anatomy_ssl.cli.export_command import export
from anatomy_ssl.cli.frame_command import frame
from anatomy_ssl.cli.inspect_command import inspect
from anatomy_ssl.cli.manifest_command import manifest
from anatomy_ssl.cli.mine_command import mine
from anatomy_ssl.cli.phantom_command import phantom
from anatomy_ssl.cli.preprocess_command import PreprocessCommand, preprocess
from anatomy_ssl.cli.pretrain_command import PretrainCommand, pretrain
from anatomy_ssl.cli.report_command import report
from anatomy_ssl.cli.verb_command import RootCommand, VerbCommand
from anatomy_ssl.errors import AnatomySSLError

app = typer.Typer(
    name="anatomy-ssl",
    cls=RootCommand,
    help="Anatomy-aware self-supervised pretraining for CT/MRI volumes and radiographs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command(cls=VerbCommand)(demo)
app.command(cls=VerbCommand)(phantom)
app.command("atlas-dataset", cls=VerbCommand)(atlas_dataset)
app.command(cls=VerbCommand)(manifest)
app.command(cls=PreprocessCommand)(preprocess)
app.command(cls=VerbCommand)(mine)
app.command(cls=VerbCommand)(frame)
app.command(cls=VerbCommand)(inspect)
app.command(cls=PretrainCommand)(pretrain)
app.command(cls=VerbCommand)(export)
app.command(cls=VerbCommand)(embed)
app.command(cls=VerbCommand)(evaluate)
app.command(cls=VerbCommand)(benchmark)
app.command(cls=VerbCommand)(report)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"anatomy-ssl {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="Print the version."
    ),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log details (INFO level)."),
) -> None:
    """Anatomy-aware self-supervised pretraining for CT/MRI volumes and radiographs."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )


def main() -> None:
    """Console entry point: user errors print one clear message (exit 2), not a traceback."""
    try:
        app()
    except AnatomySSLError as error:
        typer.echo(f"error: {error}", err=True)
        sys.exit(2)
