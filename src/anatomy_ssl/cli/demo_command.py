"""`anatomy-ssl demo`: the whole pipeline on the built-in CT phantom, in minutes on a laptop.

Phantom subjects (mixed on-disk orientations, spacings, disease) with labels, landmarks and a
clinical table -> montage PNG -> parallel preprocessing into the cache -> a few minutes of
self-supervised pretraining on CPU -> exported encoder -> per-volume embeddings -> evaluation
against a random-init encoder -> report. Every stage skips what an earlier run already finished.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from anatomy_ssl.manifests import assign_subject_splits, load_manifest, split_counts
from anatomy_ssl.phantoms.ct_phantom import make_ct_phantom_dataset, make_ct_phantom_subject
from anatomy_ssl.phantoms.phantom_montage import save_montage
from anatomy_ssl.phantoms.torso_parameters import Preset
from anatomy_ssl.preprocess import PreprocessSpec, preprocess_dataset

DEMO_PRESET: Preset = "default"
DEMO_METHOD = "simclr"
DEMO_SPLITS = {"train": 0.5, "test": 0.5}


def demo(
    out: Path = typer.Option(Path("demo-output"), "--out", "-o", help="Folder for everything."),
    subjects: int = typer.Option(8, min=2, help="Number of phantom subjects."),
    workers: int = typer.Option(2, "--workers", "-j", min=1, help="Worker processes."),
    steps: int = typer.Option(150, min=1, help="Pretraining steps (about 0.15 s each on 2 cores)."),
    finetune_steps: int = typer.Option(
        150, min=1, help="Training steps of each few-shot segmentation run in the evaluation."
    ),
    seed: int = typer.Option(0, help="Random seed."),
    method: str = typer.Option(
        DEMO_METHOD, help="Pretraining method: simclr | moco | dino | mae | eden | eden_v1."
    ),
    evaluate: bool = typer.Option(
        True, "--evaluate/--no-evaluate", help="Evaluate against scratch and write the report."
    ),
) -> None:
    """Run the pipeline end to end on the built-in phantom and say what was produced."""
    import torch

    from anatomy_ssl.embedding import embed_dataset
    from anatomy_ssl.evaluation.encoder_evaluation import evaluate_encoder
    from anatomy_ssl.export import export_run, export_scratch
    from anatomy_ssl.models import create_encoder
    from anatomy_ssl.reporting import write_report
    from anatomy_ssl.training.pretrain_config import METHOD_NAMES, resolve_pretrain_config
    from anatomy_ssl.training.pretrain_run import pretrain

    if method not in METHOD_NAMES:  # before minutes of data generation, not after
        known = ", ".join(METHOD_NAMES)
        raise typer.BadParameter(
            f"unknown method {method!r}; known: {known}", param_hint="--method"
        )

    data = out / "phantom"
    manifest_path = data / "manifest.csv"
    if manifest_path.is_file() and len(load_manifest(manifest_path)) == subjects:
        typer.echo(f"[1/6] phantom already in {data}")
    else:
        typer.echo(f"[1/6] generating {subjects} CT phantom subjects in {data}")
        made = make_ct_phantom_dataset(
            data, subjects, seed=seed, preset=DEMO_PRESET, workers=workers
        )
        # half the subjects pretrain and train the few-shot heads, the other half test them
        assign_subject_splits(made, fractions=DEMO_SPLITS, seed=seed, keep_existing=False).to_csv(
            manifest_path
        )
    manifest = load_manifest(manifest_path)
    montage = save_montage(
        [make_ct_phantom_subject(k, seed=seed, preset=DEMO_PRESET) for k in range(2)],
        out / "phantom_montage.png",
    )
    typer.echo(f"[2/6] manifest {manifest_path}: {split_counts(manifest)} subjects per split")

    spec = PreprocessSpec(target_spacing_mm=(3.0, 3.0, 3.0), intensity="ct", foreground_crop=True)
    summary = preprocess_dataset(manifest, spec, out / "cache", workers=workers)
    typer.echo(f"[3/6] preprocessed: {summary.describe()}")

    config = resolve_pretrain_config(
        {
            "method": method,
            "seed": seed,
            "data.source": str(out / "cache"),
            "data.workers": workers,
            "optim.max_steps": steps,
        }
    )
    typer.echo(
        f"[4/6] pretraining {config.method} on {config.encoder.name} for {steps} steps "
        f"({config.data.batch_size} x {config.data.crop_size_vox}^3 crops per step)"
    )
    run = pretrain(config, out / "runs" / method, resume=True)
    typer.echo(
        f"      {run.summary['steps']} steps, final loss {run.summary['final_loss']:.3f}"
        + (
            f", {run.summary['samples_per_s']:.1f} samples/s"
            if "samples_per_s" in run.summary
            else ""
        )
    )
    encoder = export_run(run.run_dir, out / "encoder")
    embeddings = embed_dataset(
        encoder, out / "cache", out / "embeddings", tile_vox=32, progress=False
    )
    typer.echo(f"[5/6] exported the encoder to {encoder} and embedded every volume")
    produced = [
        f"{data}   phantom: images/, labels/level0..2/, landmarks/, clinical.csv, hierarchy.json, "
        "manifest.csv",
        f"{montage}   axial/coronal/sagittal views with organ labels",
        f"{summary.spec_folder}   cache (image.npy, label.npy, meta.json per volume)",
        f"{run.run_dir}   run: config.yaml, checkpoints/, logs/ (TensorBoard, metrics.csv)",
        f"{encoder}   encoder.safetensors + card.json (load with anatomy_ssl.load_encoder)",
        f"{embeddings}   embeddings.csv / embeddings.npy, one row per volume",
    ]
    if not evaluate:
        typer.echo("[6/6] evaluation skipped (--no-evaluate)")
        typer.echo("\nproduced:\n  " + "\n  ".join(produced))
        return

    torch.manual_seed(seed)
    scratch = export_scratch(
        create_encoder(config.encoder.name, spatial_dims=3, in_channels=1),
        out / "encoder-scratch",
        preprocess=spec.to_dict(),
        preprocess_hash=spec.hash,
    )
    typer.echo(
        f"[6/6] evaluating {method} against scratch: few-shot segmentation (frozen encoder), "
        "correspondence, locality, compositionality"
    )
    settings = _demo_protocol_settings(finetune_steps)
    for label, folder in (("scratch", scratch), (method, encoder)):
        evaluate_encoder(
            folder,
            manifest_path,
            out / "records",
            protocols=list(settings),
            settings=settings,
            method=label,
            dataset_name="phantom",
            cache_dir=out / "cache-evaluation",
            workers=workers,
            keep_going=True,
            progress=False,
        )
    report = write_report(
        out / "records", out / "report", runs_dir=out / "runs", title="anatomy-ssl demo report"
    )
    produced += [
        f"{out / 'records'}   one JSON record per (encoder, protocol, seed)",
        f"{report.html}   the report (also {report.markdown.name}, plots/)",
    ]
    typer.echo("\nproduced:\n  " + "\n  ".join(produced))


def _demo_protocol_settings(finetune_steps: int) -> dict[str, dict[str, Any]]:
    """Minutes on a laptop: frozen-encoder few-shot runs, zero-shot tests on every subject."""
    return {
        "few_shot_segmentation": {
            "k": [1, 2],
            "seeds": [0, 1, 2],
            "modes": ["frozen"],
            "steps": finetune_steps,
        },
        "correspondence": {"split": "all", "tile_vox": 64},
        "locality": {"split": "all", "patch_vox": 16},
        "compositionality": {"split": "all", "whole_vox": 32},
    }
