"""`anatomy-ssl demo`: the whole pipeline that exists so far, on the built-in CT phantom.

Phantom subjects (mixed on-disk orientations, spacings, disease) with labels, landmarks and a
clinical table -> montage PNG -> parallel preprocessing into the cache -> a few minutes of
self-supervised pretraining on CPU -> exported encoder -> per-volume embeddings. Every stage skips
what an earlier run already finished.
"""

from __future__ import annotations

from pathlib import Path

import typer

from anatomy_ssl.manifests import load_manifest, split_counts
from anatomy_ssl.phantoms.ct_phantom import make_ct_phantom_dataset, make_ct_phantom_subject
from anatomy_ssl.phantoms.phantom_montage import save_montage
from anatomy_ssl.phantoms.torso_parameters import Preset
from anatomy_ssl.preprocess import PreprocessSpec, preprocess_dataset

DEMO_PRESET: Preset = "default"
DEMO_METHOD = "simclr"


def demo(
    out: Path = typer.Option(Path("demo-output"), "--out", "-o", help="Folder for everything."),
    subjects: int = typer.Option(8, min=2, help="Number of phantom subjects."),
    workers: int = typer.Option(2, "--workers", "-j", min=1, help="Worker processes."),
    steps: int = typer.Option(150, min=1, help="Pretraining steps (about 1 s each on 2 cores)."),
    seed: int = typer.Option(0, help="Random seed."),
) -> None:
    """Run the pipeline end to end on the built-in phantom and say what was produced."""
    from anatomy_ssl.embedding import embed_dataset
    from anatomy_ssl.export import export_run
    from anatomy_ssl.training.pretrain_config import resolve_pretrain_config
    from anatomy_ssl.training.pretrain_run import pretrain

    data = out / "phantom"
    manifest_path = data / "manifest.csv"
    if manifest_path.is_file() and len(load_manifest(manifest_path)) == subjects:
        typer.echo(f"[1/5] phantom already in {data}")
    else:
        typer.echo(f"[1/5] generating {subjects} CT phantom subjects in {data}")
        make_ct_phantom_dataset(data, subjects, seed=seed, preset=DEMO_PRESET, workers=workers)
    manifest = load_manifest(manifest_path)
    montage = save_montage(
        [make_ct_phantom_subject(k, seed=seed, preset=DEMO_PRESET) for k in range(2)],
        out / "phantom_montage.png",
    )
    typer.echo(f"[2/5] manifest {manifest_path}: {split_counts(manifest)} subjects per split")

    spec = PreprocessSpec(target_spacing_mm=(3.0, 3.0, 3.0), intensity="ct", foreground_crop=True)
    summary = preprocess_dataset(manifest, spec, out / "cache", workers=workers)
    typer.echo(f"[3/5] preprocessed: {summary.describe()}")

    config = resolve_pretrain_config(
        {
            "method": DEMO_METHOD,
            "seed": seed,
            "data.source": str(out / "cache"),
            "data.workers": workers,
            "optim.max_steps": steps,
        }
    )
    typer.echo(
        f"[4/5] pretraining {config.method} on {config.encoder.name} for {steps} steps "
        f"({config.data.batch_size} x {config.data.crop_size_vox}^3 crops per step)"
    )
    run = pretrain(config, out / "runs" / DEMO_METHOD, resume=True)
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
    typer.echo(f"[5/5] exported the encoder to {encoder} and embedded every volume")
    typer.echo(
        f"\nproduced:\n  {data}   phantom: images/, labels/level0..2/, landmarks/, clinical.csv, "
        f"hierarchy.json, manifest.csv\n  {montage}   axial/coronal/sagittal views with organ "
        f"labels\n  {summary.spec_folder}   cache (image.npy, label.npy, meta.json per volume)"
        f"\n  {run.run_dir}   run: config.yaml, checkpoints/, logs/ (TensorBoard, metrics.csv)"
        f"\n  {encoder}   encoder.safetensors + card.json (load with anatomy_ssl.load_encoder)"
        f"\n  {embeddings}   embeddings.csv / embeddings.npy, one row per volume"
    )
