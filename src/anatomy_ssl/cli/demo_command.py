"""`anatomy-ssl demo`: the whole pipeline that exists so far, on the built-in CT phantom.

Today: phantom subjects (mixed on-disk orientations, spacings, disease) with labels, landmarks and
a clinical table -> montage PNG -> parallel preprocessing into the cache (a re-run skips
everything) -> random crops sampled from the memory-mapped cache.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import typer

from anatomy_ssl.manifests import load_manifest, split_counts
from anatomy_ssl.phantoms.ct_phantom import make_ct_phantom_dataset, make_ct_phantom_subject
from anatomy_ssl.phantoms.phantom_montage import save_montage
from anatomy_ssl.phantoms.torso_parameters import Preset
from anatomy_ssl.preprocess import (
    PreprocessSpec,
    VolumeCache,
    preprocess_dataset,
    random_crop_starts,
)

DEMO_PRESET: Preset = "default"


def demo(
    out: Path = typer.Option(Path("demo-output"), "--out", "-o", help="Folder for everything."),
    subjects: int = typer.Option(8, min=2, help="Number of phantom subjects."),
    workers: int = typer.Option(2, "--workers", "-j", min=1, help="Worker processes."),
    seed: int = typer.Option(0, help="Random seed."),
) -> None:
    """Run the pipeline end to end on the built-in phantom and say what was produced."""
    data = out / "phantom"
    manifest_path = data / "manifest.csv"
    if manifest_path.is_file() and len(load_manifest(manifest_path)) == subjects:
        typer.echo(f"[1/4] phantom already in {data}")
    else:
        typer.echo(f"[1/4] generating {subjects} CT phantom subjects in {data}")
        make_ct_phantom_dataset(data, subjects, seed=seed, preset=DEMO_PRESET, workers=workers)
    manifest = load_manifest(manifest_path)
    montage = save_montage(
        [make_ct_phantom_subject(k, seed=seed, preset=DEMO_PRESET) for k in range(2)],
        out / "phantom_montage.png",
    )
    typer.echo(f"[2/4] manifest {manifest_path}: {split_counts(manifest)} subjects per split")

    spec = PreprocessSpec(target_spacing_mm=(3.0, 3.0, 3.0), intensity="ct", foreground_crop=True)
    summary = preprocess_dataset(manifest, spec, out / "cache", workers=workers)
    typer.echo(f"[3/4] preprocessed: {summary.describe()}")

    entries = VolumeCache(out / "cache").entries(spec.hash, split="train")
    rng = np.random.default_rng(seed)
    crop = (32, 32, 32)
    started = time.perf_counter()
    crops = 0
    for entry in entries:
        batch = entry.crops(random_crop_starts(entry.size_vox, crop, 16, rng), crop)
        crops += len(batch.image)
    rate = crops / (time.perf_counter() - started)
    typer.echo(
        f"[4/4] sampled {crops} random {crop} crops (+ organ labels) from {len(entries)} cached "
        f"training volumes at {rate:.0f} crops/s"
    )
    typer.echo(
        f"\nproduced:\n  {data}   phantom: images/, labels/level0..2/, landmarks/, clinical.csv, "
        f"hierarchy.json, manifest.csv\n  {montage}   axial/coronal/sagittal views with organ "
        f"labels\n  {summary.spec_folder}   cache (image.npy, label.npy, meta.json per volume)"
    )
