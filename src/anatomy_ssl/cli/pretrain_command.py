"""`anatomy-ssl pretrain`: self-supervised pretraining of an encoder on a manifest, a cache or the
built-in phantom."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import typer

from anatomy_ssl.cli.config_overrides import parse_overrides
from anatomy_ssl.cli.verb_command import VerbCommand

# the options that set one config key each; None leaves the key to the config file and defaults
CONFIG_KEY_OF_OPTION = {
    "method": "method",
    "data": "data.source",
    "encoder": "encoder.name",
    "steps": "optim.max_steps",
}


class PretrainCommand(VerbCommand):
    """`pretrain`'s command: --help shows the config schema's default of each option that sets a
    config key."""

    def help_defaults(self) -> dict[str, Any]:
        from anatomy_ssl.training.pretrain_config import PretrainConfig  # torch: for --help only

        schema = PretrainConfig()
        return {
            option: functools.reduce(getattr, key.split("."), schema)
            for option, key in CONFIG_KEY_OF_OPTION.items()
        }


def pretrain(
    out: Path = typer.Option(..., "--out", "-o", help="Run folder (config, checkpoints, logs)."),
    method: str | None = typer.Option(
        None, help="simclr | moco | dino | mae | eden | eden_v1 | sam | alice."
    ),
    data: str | None = typer.Option(
        None, help="A manifest (CSV / JSON / folder), a preprocessed cache, or 'phantom'."
    ),
    encoder: str | None = typer.Option(None, help="Encoder registry name, e.g. resunet_small."),
    steps: int | None = typer.Option(
        None, help="Optimizer steps (optim.max_steps); with --resume, the new total."
    ),
    config: Path | None = typer.Option(None, "--config", help="YAML config file."),
    resume: bool = typer.Option(False, "--resume", help="Continue the run in --out."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show progress bars."),
    overrides: list[str] = typer.Argument(
        None, help="key=value config overrides, e.g. optim.lr=3e-4 data.batch_size=16."
    ),
) -> None:
    """Pretrain an encoder; every setting is a config key (see the README's table)."""
    from anatomy_ssl.training.pretrain_config import resolve_pretrain_config
    from anatomy_ssl.training.pretrain_run import pretrain as run_pretraining

    given: dict[str, Any] = {"method": method, "data": data, "encoder": encoder, "steps": steps}
    flags = {
        CONFIG_KEY_OF_OPTION[option]: value for option, value in given.items() if value is not None
    }
    resolved = resolve_pretrain_config(
        flags, parse_overrides(list(overrides or [])), config_file=config
    )
    ignored = [key for key in flags if key != "optim.max_steps"]
    if resume and (ignored or overrides or config):
        typer.echo(
            "note: --resume continues with the run's saved config.yaml; only --steps is taken "
            "(to extend the run), other options are ignored"
        )
    result = run_pretraining(
        resolved, out, resume=resume, max_steps=steps if resume else None, progress=progress
    )
    summary = result.summary
    if resume and result.trained_steps == 0:
        typer.echo(
            f"nothing to train: the run is already at step {summary['steps']} "
            "(pass --steps N to extend it)"
        )
    typer.echo(
        f"{summary['method']} on {summary['encoder']}: {summary['steps']} steps in "
        f"{summary['wall_s']:.0f} s, final loss {summary['final_loss']:.4f}"
        + (f", {summary['samples_per_s']:.1f} samples/s" if "samples_per_s" in summary else "")
    )
    typer.echo(f"run: {result.run_dir}  (checkpoint {result.checkpoint})")
