"""`anatomy-ssl manifest`: build, validate and split a manifest, written as CSV."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from anatomy_ssl.errors import ConfigError
from anatomy_ssl.manifests import assign_subject_splits, load_manifest, split_counts


def _fractions(text: str) -> dict[str, float]:
    fractions = {}
    for part in text.split(","):
        name, sep, value = part.partition("=")
        if not sep:
            raise ConfigError(f"--split must look like train=0.8,val=0.1,test=0.1, got {text!r}")
        try:
            fractions[name.strip()] = float(value)
        except ValueError:
            raise ConfigError(
                f"--split: {value!r} is not a number (expected e.g. train=0.8,val=0.1,test=0.1)"
            ) from None
    return fractions


def manifest(
    source: Path = typer.Argument(..., help="A folder of volumes, a CSV or a decathlon JSON."),
    out: Path = typer.Option(..., "--out", "-o", help="Manifest CSV to write."),
    labels: Path | None = typer.Option(None, help="Folder of label maps (folder input only)."),
    label_set: str | None = typer.Option(None, help="labels/<set> subfolder to use."),
    dims: int = typer.Option(3, "--dims", help="3 for volumes, 2 for radiographs."),
    split: str = typer.Option(
        "train=0.8,val=0.1,test=0.1", help="Subject-level split fractions for unsplit subjects."
    ),
    seed: int = typer.Option(0, help="Seed of the subject shuffle."),
    root: Path | None = typer.Option(
        None,
        "--root",
        help="Confine the manifest: every image and label must resolve (symlinks followed) "
        "inside this folder; rows outside it are refused. Default: paths may point anywhere.",
    ),
) -> None:
    """Collect volumes into a validated manifest CSV with subject-level splits."""
    options: dict[str, Any] = {"labels_dir": labels, "label_set": label_set, "spatial_dims": dims}
    folder_options = {k: v for k, v in options.items() if v is not None} if source.is_dir() else {}
    loaded = load_manifest(source, confine_to=root, **folder_options)
    for reject in loaded.rejects:
        typer.echo(f"  rejected {reject}", err=True)
    split_manifest = assign_subject_splits(loaded, fractions=_fractions(split), seed=seed)
    written = split_manifest.to_csv(out)
    counts = ", ".join(f"{name}: {n}" for name, n in split_counts(split_manifest).items())
    labelled = sum(r.label is not None for r in split_manifest)
    typer.echo(
        f"{len(split_manifest)} volumes ({labelled} with labels) of "
        f"{len(split_manifest.subjects())} subjects -> {written}\nsubjects per split: {counts}"
    )
    if loaded.rejects:
        typer.echo(f"{len(loaded.rejects)} rejected, not in the manifest (see above)", err=True)
