"""`anatomy-ssl preprocess`: manifest/folder -> validated, cached, memory-mappable volumes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from anatomy_ssl.cli.config_overrides import parse_overrides
from anatomy_ssl.cli.verb_command import VerbCommand
from anatomy_ssl.errors import ConfigError
from anatomy_ssl.manifests import load_manifest
from anatomy_ssl.preprocess import PreprocessSpec, Shard, preprocess_dataset


class PreprocessCommand(VerbCommand):
    """`preprocess`'s command: --help shows `PreprocessSpec`'s default of each option that sets a
    spec field (--spacing's, keeping the native spacing, is said in its help)."""

    def help_defaults(self) -> dict[str, Any]:
        spec = PreprocessSpec()
        return {
            "intensity": spec.intensity,
            "foreground_crop": spec.foreground_crop,
            "dims": spec.spatial_dims,
        }


def build_spec(config: Path | None, flags: dict[str, Any], overrides: list[str]) -> PreprocessSpec:
    """Defaults < YAML config < explicit flags < key=value overrides; unknown keys are errors."""
    values = PreprocessSpec.from_yaml(config).to_dict() if config else {}
    values.update({k: v for k, v in flags.items() if v is not None})
    values.update(parse_overrides(overrides))
    return PreprocessSpec.from_dict(values, source=str(config) if config else "preprocess options")


def _spacing(text: str | None) -> list[float] | float | None:
    """`--spacing`: one number (isotropic) or comma-separated numbers, in mm."""
    if text is None:
        return None
    try:
        parts = [float(p) for p in text.split(",")]
    except ValueError:
        raise ConfigError(
            f"--spacing must be a number or comma-separated numbers in mm (e.g. 1.5 or "
            f"0.8,0.8,2.5), got {text!r}"
        ) from None
    return parts[0] if len(parts) == 1 else parts


def preprocess(
    data: Path = typer.Argument(
        ..., help="A folder of volumes, a manifest CSV or a decathlon JSON."
    ),
    out: Path = typer.Option(..., "--out", "-o", help="Cache folder (created if missing)."),
    config: Path | None = typer.Option(None, "--config", "-c", help="PreprocessSpec YAML file."),
    spacing: str | None = typer.Option(
        None, help="Target spacing in mm: one value (isotropic) or 'x,y,z'. Default: keep native."
    ),
    intensity: str | None = typer.Option(None, help="ct | mri | none."),
    foreground_crop: bool | None = typer.Option(
        None, "--foreground-crop/--no-foreground-crop", help="Crop to the body bounding box."
    ),
    dims: int | None = typer.Option(None, "--dims", help="3 for volumes, 2 for radiographs."),
    labels: Path | None = typer.Option(None, help="Folder of label maps (folder input only)."),
    label_set: str | None = typer.Option(
        None, help="Which labels/<set> folder to use for an images/ + labels/<set>/ layout."
    ),
    workers: int = typer.Option(1, "--workers", "-j", min=1, help="Parallel worker processes."),
    shard: str = typer.Option(
        "0/1", help="Process shard i of N (0-based), e.g. $SLURM_ARRAY_TASK_ID/8."
    ),
    root: Path | None = typer.Option(
        None,
        "--root",
        help="Confine the manifest: every image and label must resolve (symlinks followed) "
        "inside this folder; rows outside it are refused. Default: paths may point anywhere.",
    ),
    strict: bool = typer.Option(False, help="Exit non-zero if any volume was rejected."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
    overrides: list[str] = typer.Argument(
        None,
        help="PreprocessSpec overrides as key=value (e.g. ct_window_hu=[-160,240]).",
        show_default=False,
    ),
) -> None:
    """Reorient, resample, normalize and cache volumes; re-runs skip finished work."""
    spec = build_spec(
        config,
        {
            "target_spacing_mm": _spacing(spacing),
            "intensity": intensity,
            "foreground_crop": foreground_crop,
            "spatial_dims": dims,
        },
        overrides or [],
    )
    folder_options: dict[str, Any] = {}
    if data.is_dir():
        folder_options = {
            "labels_dir": labels,
            "label_set": label_set,
            "spatial_dims": spec.spatial_dims,
        }
    manifest = load_manifest(
        data, confine_to=root, **{k: v for k, v in folder_options.items() if v is not None}
    )
    typer.echo(f"{len(manifest)} volumes in {data}; spec {spec.hash}")
    for reject in manifest.rejects:
        typer.echo(f"  rejected {reject}", err=True)
    summary = preprocess_dataset(
        manifest, spec, out, workers=workers, shard=Shard.parse(shard), progress=progress
    )
    typer.echo(summary.describe())
    for path, reason in summary.rejects[:20]:
        typer.echo(f"  rejected {path}: {reason}", err=True)
    if summary.rejected:
        rejects_file = Path(summary.spec_folder) / f"rejected{Shard.parse(shard).suffix}.csv"
        typer.echo(f"{summary.rejected} rejected: see {rejects_file}", err=True)
    if manifest.rejects:
        typer.echo(f"{len(manifest.rejects)} rejected while scanning {data}: see above", err=True)
    if strict and (summary.rejected or manifest.rejects):
        raise typer.Exit(1)
