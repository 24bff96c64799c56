"""`anatomy-ssl frame`: DrasCLR's anatomical frame (patch locations on a reference, mapped into
every subject by affine registration), built once and stored with the cache."""

from __future__ import annotations

from pathlib import Path

import typer

from anatomy_ssl.errors import ConfigError
from anatomy_ssl.preprocess import Shard

#: Reject and sparse rows echoed to the terminal (all rejects are in the rejects file).
SHOWN_ROWS = 20


def parse_region_labels(text: str | None) -> tuple[int, ...] | None:
    """ "1,2" -> (1, 2); None or "" -> None (the body foreground)."""
    if not text:
        return None
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise ConfigError(
            f"--region-labels must be comma-separated label values (e.g. 1,2), got {text!r}"
        ) from None


def frame(
    cache: Path = typer.Option(..., "--cache", help="Cache folder (of `anatomy-ssl preprocess`)."),
    reference: str | None = typer.Option(
        None,
        "--reference",
        help="Reference entry key or subject id (default: the first training entry by key).",
    ),
    patch: int = typer.Option(32, "--patch", min=1, help="Patch size, voxels per axis."),
    stride: int = typer.Option(26, "--stride", min=1, help="Step between patches, voxels."),
    region_labels: str | None = typer.Option(
        None,
        "--region-labels",
        help="Label values of the region, e.g. 1,2 for the lungs (default: the body foreground).",
    ),
    min_coverage: float = typer.Option(
        0.1,
        "--min-coverage",
        min=0.0,
        max=1.0,
        help="Fraction of a patch in the region to keep it.",
    ),
    iterations: int = typer.Option(200, min=1, help="Registration iterations per pyramid level."),
    spec_hash: str | None = typer.Option(
        None, "--spec-hash", help="Preprocessing spec to frame (default: the cache's only one)."
    ),
    workers: int = typer.Option(1, "--workers", "-j", min=1, help="Parallel worker processes."),
    shard: str = typer.Option(
        "0/1", help="Frame shard i of N (0-based), e.g. $SLURM_ARRAY_TASK_ID/8."
    ),
    split: str = typer.Option("all", help="Frame only this split's volumes (e.g. train)."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
) -> None:
    """Register every volume to a reference and map its patch locations; re-runs skip finished
    volumes."""
    selected = Shard.parse(shard)  # before any work: a bad shard is a one-line error
    labels = parse_region_labels(region_labels)
    from anatomy_ssl.anatomy.anatomical_frame import build_frame

    report = build_frame(
        cache,
        reference_key=reference,
        spec_hash=spec_hash,
        patch_vox=patch,
        stride_vox=stride,
        region_labels=labels,
        min_coverage=min_coverage,
        iterations=iterations,
        workers=workers,
        shard=selected,
        split=split,
        progress=progress,
    )
    typer.echo(str(report))
    for key, subject, fraction in report.sparse[:SHOWN_ROWS]:
        typer.echo(f"  sparse {subject} ({key}): {fraction:.0%} of the locations valid", err=True)
    for key, subject, reason in report.rejects[:SHOWN_ROWS]:
        typer.echo(f"  rejected {subject} ({key}): {reason}", err=True)
    if report.rejects:
        rejects_file = Path(report.folder) / f"rejects{selected.suffix}.csv"
        typer.echo(f"{len(report.rejects)} reject row(s): see {rejects_file}", err=True)
