"""`anatomy-ssl demo`: the whole pipeline that exists so far, on built-in synthetic CT volumes.

Today: synthetic CT-like volumes written in mixed orientations and spacings -> manifest with
subject-level splits -> parallel preprocessing into the cache (re-run: everything skipped) ->
random crops sampled from the memory-mapped cache.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import typer

from anatomy_ssl.io import Volume, write_nifti
from anatomy_ssl.manifests import assign_subject_splits, load_manifest, split_counts
from anatomy_ssl.phantoms import make_ct_like_volume
from anatomy_ssl.preprocess import (
    AxisReorientation,
    PreprocessSpec,
    VolumeCache,
    preprocess_dataset,
    random_crop_starts,
)

#: On-disk orientations the demo volumes are written in, so reorientation is exercised.
_DEMO_ORIENTATIONS = [("R", "A", "S"), ("L", "P", "S"), ("L", "A", "S"), ("P", "I", "R")]


def write_demo_volumes(folder: Path, count: int, seed: int) -> None:
    """Write `count` CT-like volumes + label maps as NIfTI in varied orientations and spacings."""
    rng = np.random.default_rng(seed)
    for index in range(count):
        in_plane = float(rng.uniform(1.2, 1.8))
        spacing = (in_plane, in_plane, float(rng.choice([1.5, 2.0, 3.0])))
        fov_mm = np.array([160.0, 160.0, 200.0])
        size_x, size_y, size_z = (int(n) for n in np.round(fov_mm / np.asarray(spacing)))
        generated = make_ct_like_volume((size_x, size_y, size_z), spacing, seed=seed * 1000 + index)
        image = Volume(generated.hu[None], generated.affine)
        label = Volume(generated.label[None], generated.affine)
        codes = _DEMO_ORIENTATIONS[index % len(_DEMO_ORIENTATIONS)]
        reorientation = AxisReorientation.to_axcodes(image, codes)
        name = f"demo_{index:03d}.nii.gz"
        write_nifti(reorientation.apply(image), folder / "images" / name)
        write_nifti(reorientation.apply(label), folder / "labels" / name)


def demo(
    out: Path = typer.Option(Path("demo-output"), "--out", "-o", help="Folder for everything."),
    subjects: int = typer.Option(8, min=2, help="Number of synthetic subjects."),
    workers: int = typer.Option(2, "--workers", "-j", min=1, help="Preprocessing processes."),
    seed: int = typer.Option(0, help="Random seed."),
) -> None:
    """Run the pipeline end to end on built-in synthetic data and say what was produced."""
    data = out / "data"
    if not (data / "images").is_dir() or len(list((data / "images").iterdir())) < subjects:
        typer.echo(f"[1/4] writing {subjects} synthetic CT volumes to {data}")
        write_demo_volumes(data, subjects, seed)
    else:
        typer.echo(f"[1/4] synthetic CT volumes already in {data}")
    manifest = assign_subject_splits(load_manifest(data), seed=seed)
    manifest_path = manifest.to_csv(out / "manifest.csv")
    typer.echo(f"[2/4] manifest {manifest_path}: {split_counts(manifest)} subjects per split")

    spec = PreprocessSpec(target_spacing_mm=(2.0, 2.0, 2.0), intensity="ct", foreground_crop=True)
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
        f"[4/4] sampled {crops} random {crop} crops (+ labels) from {len(entries)} cached "
        f"training volumes at {rate:.0f} crops/s"
    )
    typer.echo(
        f"\nproduced:\n  {data}/images, {data}/labels   synthetic volumes (NIfTI, mixed "
        f"orientations)\n  {manifest_path}   manifest with subject-level splits\n"
        f"  {summary.spec_folder}   cache (image.npy, label.npy, meta.json per volume)"
    )
