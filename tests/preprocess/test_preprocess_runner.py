import csv
import json
import os
import shutil
import subprocess
import sys
import textwrap
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from anatomy_ssl.io import Volume, read_volume, write_nifti
from anatomy_ssl.manifests import Manifest, ManifestRecord, manifest_from_folder
from anatomy_ssl.phantoms import make_ct_like_volume
from anatomy_ssl.preprocess import (
    AxisReorientation,
    PreprocessSpec,
    Shard,
    VolumeCache,
    preprocess_dataset,
)
from support.orphaned_workers import kill_and_list_survivors, wait_for_workers

SPEC = PreprocessSpec(target_spacing_mm=(3.0, 3.0, 3.0), foreground_crop=True)


def _write_case(folder, index, codes=("R", "A", "S")):
    generated = make_ct_like_volume((24, 22, 20), (2.0, 2.0, 2.5), seed=index)
    image = Volume(generated.hu[None], generated.affine)
    label = Volume(generated.label[None], generated.affine)
    turn = AxisReorientation.to_axcodes(image, codes)
    image_path = folder / "images" / f"case_{index}.nii.gz"
    label_path = folder / "labels" / f"case_{index}.nii.gz"
    write_nifti(turn.apply(image), image_path)
    write_nifti(turn.apply(label), label_path)
    return ManifestRecord(
        image_path, label_path, f"case_{index}", "train", {"age": str(50 + index)}
    )


@pytest.fixture
def dataset(tmp_path):
    records = [
        _write_case(tmp_path, i, codes)
        for i, codes in enumerate([("R", "A", "S"), ("L", "P", "S"), ("P", "I", "R")])
    ]
    corrupt = tmp_path / "images" / "broken.nii.gz"
    corrupt.write_bytes(b"\x1f\x8b" + os.urandom(200))
    nan_path = tmp_path / "images" / "nan.nii.gz"
    write_nifti(Volume(np.full((1, 8, 8, 8), np.nan, np.float32), np.eye(4)), nan_path)
    bad = [
        ManifestRecord(corrupt, None, "broken", "train", {}),
        ManifestRecord(nan_path, None, "nan", "train", {}),
    ]
    return Manifest("test", records + bad), tmp_path / "cache"


def _entry_files(cache):
    return sorted(p.relative_to(cache) for p in cache.rglob("*.npy"))


def test_run_writes_entries_and_records_rejects_without_stopping(dataset):
    manifest, cache = dataset
    summary = preprocess_dataset(manifest, SPEC, cache, progress=False)
    assert (summary.written, summary.skipped, summary.rejected) == (3, 0, 2)
    with (cache / SPEC.hash / "rejected.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert {Path(r["path"]).name for r in rows} == {"broken.nii.gz", "nan.nii.gz"}
    assert all(Path(r["path"]).name in r["reason"] for r in rows)  # names the file
    assert any("NaN" in r["reason"] for r in rows)
    saved = json.loads((cache / SPEC.hash / "summary.json").read_text())
    assert saved["written"] == 3 and saved["rejected"] == 2
    entries = VolumeCache(cache).entries()
    assert [e.subject_id for e in entries] == ["case_0", "case_1", "case_2"]
    assert all(e.has_label and e.split == "train" for e in entries)
    assert entries[0].meta["metadata"] == {"age": "50"}
    assert entries[0].meta["label_values"] == [0, 1, 2, 3, 4, 5]


def test_rerun_skips_everything_and_changed_spec_writes_new_entries(dataset):
    manifest, cache = dataset
    preprocess_dataset(manifest, SPEC, cache, progress=False)
    before = {p: p.stat().st_mtime_ns for p in cache.rglob("image.npy")}
    again = preprocess_dataset(manifest, SPEC, cache, progress=False)
    assert (again.written, again.skipped) == (0, 3)
    assert {p: p.stat().st_mtime_ns for p in cache.rglob("image.npy")} == before
    other = PreprocessSpec(target_spacing_mm=(4.0, 4.0, 4.0))
    changed = preprocess_dataset(manifest, other, cache, progress=False)
    assert changed.written == 3
    assert VolumeCache(cache).spec_hashes() == sorted([SPEC.hash, other.hash])


def test_changed_split_updates_metadata_without_recomputing(dataset):
    manifest, cache = dataset
    preprocess_dataset(manifest, SPEC, cache, progress=False)
    image_files = {p: p.stat().st_mtime_ns for p in cache.rglob("image.npy")}
    moved = Manifest(
        "test",
        [
            ManifestRecord(
                r.image,
                r.label,
                r.subject_id,
                "test" if r.subject_id == "case_1" else r.split,
                r.metadata,
            )
            for r in manifest
        ],
    )
    preprocess_dataset(moved, SPEC, cache, progress=False)
    assert [e.subject_id for e in VolumeCache(cache).entries(split="test")] == ["case_1"]
    assert {p: p.stat().st_mtime_ns for p in cache.rglob("image.npy")} == image_files


def test_shards_union_equals_the_whole(dataset, tmp_path):
    manifest, cache = dataset
    whole = preprocess_dataset(manifest, SPEC, tmp_path / "whole", progress=False)
    for index in range(2):
        preprocess_dataset(manifest, SPEC, cache, shard=Shard(index, 2), progress=False)
    assert _entry_files(cache) == _entry_files(tmp_path / "whole")
    assert (cache / SPEC.hash / "rejected.shard-0-of-2.csv").is_file()
    assert (cache / SPEC.hash / "rejected.shard-1-of-2.csv").is_file()
    assert whole.written == 3


def test_parallel_workers_give_the_same_entries(dataset, tmp_path):
    manifest, cache = dataset
    summary = preprocess_dataset(manifest, SPEC, cache, workers=2, progress=False)
    assert (summary.written, summary.rejected) == (3, 2)
    serial = tmp_path / "serial"
    preprocess_dataset(manifest, SPEC, serial, progress=False)
    assert _entry_files(cache) == _entry_files(serial)


def test_killed_run_leaves_only_complete_entries_and_resumes(dataset, tmp_path):
    manifest, cache = dataset
    manifest.to_csv(tmp_path / "manifest.csv")
    # A child process preprocesses and SIGKILLs itself while writing its second entry.
    script = textwrap.dedent(f"""
        import os, signal
        from anatomy_ssl.manifests import load_manifest
        from anatomy_ssl.preprocess import PreprocessSpec, preprocess_dataset
        from anatomy_ssl.preprocess import cache_entry
        original = cache_entry._write_bytes_durably
        calls = []
        def dying_write(path, data):
            calls.extend([path] if path.name == "meta.json" else [])
            if len(calls) == 2:  # the second entry's meta.json: its arrays are already staged
                os.kill(os.getpid(), signal.SIGKILL)
            original(path, data)
        cache_entry._write_bytes_durably = dying_write
        spec = PreprocessSpec.from_dict({SPEC.to_dict()!r})
        manifest = load_manifest({str(tmp_path / "manifest.csv")!r}, validate=False)
        preprocess_dataset(manifest, spec, {str(cache)!r}, progress=False)
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == -9, result.stderr
    finished = VolumeCache(cache).entries()
    assert len(finished) == 1
    assert len(list((cache / ".staging").iterdir())) == 1  # the interrupted entry, never visible
    resumed = preprocess_dataset(manifest, SPEC, cache, progress=False)
    assert (resumed.written, resumed.skipped) == (2, 1)
    assert list((cache / ".staging").iterdir()) == []
    reference = tmp_path / "reference"
    preprocess_dataset(manifest, SPEC, reference, progress=False)
    for ours, theirs in zip(
        VolumeCache(cache).entries(), VolumeCache(reference).entries(), strict=True
    ):
        assert ours.key == theirs.key
        assert np.array_equal(ours.load_image(), theirs.load_image())
        assert np.array_equal(ours.load_label(), theirs.load_label())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads children from /proc")
def test_killing_a_parallel_run_takes_its_workers_with_it(tmp_path):
    # Volumes upsampled 2 mm -> 0.5 mm (0.2 s each): the two workers are busy when the run dies.
    rng = np.random.default_rng(0)
    for index in range(40):
        array = rng.normal(0.0, 100.0, (1, 32, 32, 32)).astype(np.float32)
        path = tmp_path / "images" / f"case_{index}.nii.gz"
        write_nifti(Volume(array, np.diag([2.0, 2.0, 2.0, 1.0])), path)
    cache = tmp_path / "cache"
    command = [sys.executable, "-m", "anatomy_ssl", "preprocess", str(tmp_path / "images")]
    command += ["--out", str(cache), "--spacing", "0.5", "--no-progress", "-j", "2"]
    parent = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    children = wait_for_workers(parent, 2, ready=lambda: any(cache.glob("*/entries/*")))
    assert kill_and_list_survivors(parent, children) == []
    entries = VolumeCache(cache).entries()
    assert entries and all(entry.load_image().shape == (1, 128, 128, 128) for entry in entries)


@pytest.mark.parametrize("codes", [("R", "A", "S"), ("L", "P", "S")])
def test_round_trip_file_cache_file_keeps_affine_and_values(tmp_path, codes):
    record = _write_case(tmp_path, 7, codes)
    original = read_volume(record.image)
    identity = PreprocessSpec(intensity="none")
    preprocess_dataset([record], identity, tmp_path / "cache", progress=False)
    (entry,) = VolumeCache(tmp_path / "cache").entries()
    cached = Volume(entry.load_image(), entry.affine)
    back = AxisReorientation.to_axcodes(cached, codes).apply(cached)  # to the on-disk orientation
    out_path = tmp_path / "back.nii.gz"
    write_nifti(back, out_path)
    reread = read_volume(out_path)
    assert np.allclose(reread.affine, original.affine, atol=1e-6)
    assert np.array_equal(reread.array.astype(np.float32), original.array.astype(np.float32))


def test_two_dimensional_radiographs_are_cached_as_2d(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    records = []
    for index in range(2):
        pixels = (rng.random((30, 24)) * 200).astype(np.uint8)
        pixels[10:20, 8:16] = 255
        path = tmp_path / f"xr_{index}.png"
        Image.fromarray(pixels).save(path)
        records.append(ManifestRecord(path, None, f"xr_{index}", None, {}))
    spec = PreprocessSpec(spatial_dims=2, intensity="mri", target_spacing_mm=(2.0, 2.0))
    summary = preprocess_dataset(records, spec, tmp_path / "cache", progress=False)
    assert summary.written == 2
    entry = VolumeCache(tmp_path / "cache").entries()[0]
    assert entry.spatial_dims == 2 and entry.size_vox == (15, 12)
    assert entry.affine.shape == (3, 3)
    batch = entry.crops(np.array([[0, 0], [10, 8]]), (8, 8))
    assert batch.image.shape == (2, 1, 8, 8)
    assert batch.image.max() <= 1.0 and batch.image[1, 0, 7, 3] == batch.image.min()  # padding


def test_a_stray_dicom_file_among_nifti_files_is_rejected_alone(tmp_path):
    folder = tmp_path / "ct"
    for index in range(2):
        generated = make_ct_like_volume((24, 22, 20), (2.0, 2.0, 2.5), seed=index)
        write_nifti(Volume(generated.hu[None], generated.affine), folder / f"case_{index}.nii.gz")
    (folder / "stray.dcm").write_bytes(b"half a DICOM file")
    summary = preprocess_dataset(
        manifest_from_folder(folder), SPEC, tmp_path / "cache", progress=False
    )
    assert (summary.written, summary.rejected) == (2, 1)  # was 0 written: one "series" rejected
    ((path, reason),) = summary.rejects
    assert path == str(folder / "stray.dcm") and reason.startswith(f"{folder / 'stray.dcm'}: ")
    assert [e.subject_id for e in VolumeCache(tmp_path / "cache").entries()] == [
        "case_0",
        "case_1",
    ]


def _twin(record, folder, subject, split):
    """A copy of `record`'s image and label under `folder`: same bytes, another row."""
    folder.mkdir(parents=True, exist_ok=True)
    image, label = folder / record.image.name, folder / f"seg_{record.label.name}"
    shutil.copyfile(record.image, image)
    shutil.copyfile(record.label, label)
    return ManifestRecord(image, label, subject, split, {})


def _entry_rows(cache):
    return sorted(
        (e.subject_id, e.split, Path(e.meta["source_image"]).parent.name)
        for e in VolumeCache(cache).entries()
    )


def test_byte_identical_images_of_two_subjects_get_an_entry_each(dataset, tmp_path):
    manifest, cache = dataset
    twin = _twin(manifest[0], tmp_path / "copies", "twin", "test")
    both = Manifest("test", [*manifest, twin])
    summary = preprocess_dataset(both, SPEC, cache, progress=False)
    assert (summary.written, summary.rejected) == (4, 2)
    expected = [
        ("case_0", "train", "images"),
        ("case_1", "train", "images"),
        ("case_2", "train", "images"),
        ("twin", "test", "copies"),  # was merged into case_0's entry: one subject vanished
    ]
    assert _entry_rows(cache) == expected
    again = preprocess_dataset(both, SPEC, cache, progress=False)  # resume
    assert (again.written, again.skipped, again.rejected) == (0, 4, 2)
    assert _entry_rows(cache) == expected  # nothing lost, nothing duplicated


@pytest.mark.parametrize("workers", [1, 2])
def test_a_row_repeating_another_rows_bytes_for_one_subject_is_rejected_naming_both(
    dataset, tmp_path, workers
):
    manifest, cache = dataset
    first = manifest[0]
    copy = _twin(first, tmp_path / "copies", first.subject_id, first.split)
    both = Manifest("test", [*manifest, copy])
    pair = {str(first.image), str(copy.image)}
    owners = []
    for written in (3, 0):  # the first run (two workers: the rows race) and a rerun
        summary = preprocess_dataset(both, SPEC, cache, workers=workers, progress=False)
        assert (summary.written, summary.rejected) == (written, 3)
        ((duplicate, reason),) = [(p, r) for p, r in summary.rejects if p in pair]
        (kept,) = pair - {duplicate}
        assert reason.startswith(f"{duplicate}: same image and label bytes as {kept} ")
        assert "'case_0'" in reason and "duplicate row" in reason
        (entry,) = [e for e in VolumeCache(cache).entries() if e.subject_id == "case_0"]
        assert entry.meta["source_image"] == kept  # the cached row's entry, untouched
        owners.append(kept)
    assert owners[0] == owners[1]  # a rerun does not flip the entry to the other row


def test_a_moved_source_is_adopted_by_its_row_without_recomputing(dataset, tmp_path):
    manifest, cache = dataset
    preprocess_dataset(manifest, SPEC, cache, progress=False)
    image_files = {p: p.stat().st_mtime_ns for p in cache.rglob("image.npy")}
    moved_image = tmp_path / "moved" / "case_1.nii.gz"
    moved_image.parent.mkdir()
    manifest[1].image.rename(moved_image)
    moved = Manifest(
        "test", [replace(r, image=moved_image) if r.subject_id == "case_1" else r for r in manifest]
    )
    summary = preprocess_dataset(moved, SPEC, cache, progress=False)
    assert (summary.written, summary.skipped) == (0, 3)
    assert {p: p.stat().st_mtime_ns for p in cache.rglob("image.npy")} == image_files
    (entry,) = [e for e in VolumeCache(cache).entries() if e.subject_id == "case_1"]
    assert entry.meta["source_image"] == str(moved_image)
