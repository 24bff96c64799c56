"""`anatomy-ssl mine`: cross-volume point pairs for Alice, matched once, stored with the cache."""

from __future__ import annotations

from pathlib import Path

import typer

from anatomy_ssl.preprocess import Shard

#: Reject rows echoed to the terminal (all of them are in the rejects file).
SHOWN_REJECTS = 20


def mine(
    cache: Path = typer.Option(..., "--cache", help="Cache folder (of `anatomy-ssl preprocess`)."),
    matcher: str = typer.Option(
        "registration",
        "--matcher",
        help="'registration' (affine, no model needed) or an exported encoder folder.",
    ),
    partners: int = typer.Option(4, min=1, help="Partner volumes per source volume."),
    points: int = typer.Option(64, min=1, help="Source body points tried per partner."),
    seed: int = typer.Option(0, help="Seeds the partner choice and the points."),
    spec_hash: str | None = typer.Option(
        None, "--spec-hash", help="Preprocessing spec to mine (default: the cache's only one)."
    ),
    workers: int = typer.Option(1, "--workers", "-j", min=1, help="Parallel worker processes."),
    shard: str = typer.Option(
        "0/1", help="Mine shard i of N (0-based), e.g. $SLURM_ARRAY_TASK_ID/8."
    ),
    split: str = typer.Option(
        "all", help="Mine only this split's volumes (e.g. train: no test subject in a pair)."
    ),
    device: str = typer.Option("cpu", help="Where an encoder runs: cpu or cuda."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
) -> None:
    """Match body points of each volume into a few others; re-runs skip finished volumes."""
    selected = Shard.parse(shard)  # before any work: a bad shard is a one-line error
    from anatomy_ssl.correspondence.mining_runner import MatcherSpec, mine_cache

    report = mine_cache(
        cache,
        spec_hash=spec_hash,
        matcher_spec=MatcherSpec.parse(matcher, device=device),
        partners=partners,
        points_per_partner=points,
        seed=seed,
        workers=workers,
        shard=selected,
        split=split,
        progress=progress,
    )
    typer.echo(str(report))
    for source, _, partner, _, reason in report.rejects[:SHOWN_REJECTS]:
        typer.echo(f"  rejected {source}{f' -> {partner}' if partner else ''}: {reason}", err=True)
    if report.rejects:
        rejects_file = Path(report.folder) / f"rejects{selected.suffix}.csv"
        typer.echo(f"{len(report.rejects)} reject row(s): see {rejects_file}", err=True)
