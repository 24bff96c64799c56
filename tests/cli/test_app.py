import json
import subprocess
import sys

import nibabel as nib
import numpy as np
import pytest
from typer.testing import CliRunner

from anatomy_ssl import __version__
from anatomy_ssl.cli.app import app
from anatomy_ssl.errors import AnatomySSLError
from anatomy_ssl.phantoms.torso_parameters import sample_torso_parameters
from anatomy_ssl.preprocess import VolumeCache

runner = CliRunner()
VERBS = [
    "demo",
    "phantom",
    "atlas-dataset",
    "manifest",
    "preprocess",
    "mine",
    "frame",
    "inspect",
    "pretrain",
    "export",
    "embed",
    "evaluate",
    "benchmark",
    "report",
]


def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"anatomy-ssl {__version__}"


@pytest.mark.parametrize("verb", VERBS)
def test_every_verb_has_help(verb):
    result = runner.invoke(app, [verb, "--help"])
    assert result.exit_code == 0
    assert "Usage" in result.stdout and verb in result.stdout


TINY_DEMO = [
    *["--subjects", "6", "--steps", "2", "--probe-steps", "2", "--seeds", "2"],
    *["--ceiling-steps", "2", "--workers", "1", "--no-progress"],
]


def test_demo_runs_end_to_end_ends_with_a_verdict_and_resumes(tmp_path):
    result = runner.invoke(app, ["demo", "--out", str(tmp_path), *TINY_DEMO, "--method", "moco"])
    assert result.exit_code == 0, result.output
    records = tmp_path / "records" / "phantom_xray"
    assert sorted(p.name for p in records.iterdir()) == [
        "intensity_floor",
        "moco",
        "scratch",
        "supervised",
    ]
    assert len(list((records / "moco").glob("few_shot_segmentation-seed*.json"))) == 2
    card = json.loads((tmp_path / "encoders" / "phantom_xray" / "moco" / "card.json").read_text())
    assert card["method"] == "moco" and card["step"] == 2
    assert "| moco |" in (tmp_path / "report" / "report.md").read_text()
    # the last line is the verdict: the method against scratch, its interval, the instrument
    verdict = result.stdout.strip().splitlines()[-1]
    assert verdict.startswith("verdict: frozen deep k=1 Dice: moco is ")
    assert "than scratch (" in verdict or "different from scratch (" in verdict
    assert "instrument " in verdict
    again = runner.invoke(app, ["demo", "--out", str(tmp_path), *TINY_DEMO, "--method", "moco"])
    assert again.exit_code == 0, again.output
    assert again.stdout.strip().splitlines()[-1] == verdict  # nothing redone, same verdict


def test_demo_refuses_an_unknown_method_before_doing_work(tmp_path):
    bad = runner.invoke(app, ["demo", "--out", str(tmp_path / "bad"), "--method", "byol"])
    assert bad.exit_code != 0 and "unknown method 'byol'" in bad.output
    assert not (tmp_path / "bad").exists()


def test_manifest_preprocess_inspect_on_a_folder(tmp_path):
    made_phantom = runner.invoke(
        app, ["phantom", "--out", str(tmp_path / "phantom"), "--n", "2", "-j", "1", "--no-montage"]
    )
    assert made_phantom.exit_code == 0, made_phantom.output
    data = tmp_path / "phantom"
    made = runner.invoke(
        app,
        [
            "manifest",
            str(data),
            "--out",
            str(tmp_path / "m.csv"),
            "--label-set",
            "level1",
            "--split",
            "train=0.5,test=0.5",
        ],
    )
    assert made.exit_code == 0, made.output
    assert "2 volumes (2 with labels) of 2 subjects" in made.stdout
    cache = tmp_path / "cache"
    done = runner.invoke(
        app,
        [
            "preprocess",
            str(tmp_path / "m.csv"),
            "--out",
            str(cache),
            "--spacing",
            "4",
            "--no-progress",
            "foreground_crop=true",
            "ct_window_hu=[-500, 500]",
        ],
    )
    assert done.exit_code == 0, done.output
    (spec_hash,) = VolumeCache(cache).spec_hashes()
    spec = VolumeCache(cache).spec(spec_hash)
    assert spec.target_spacing_mm == (4.0, 4.0, 4.0) and spec.ct_window_hu == (-500.0, 500.0)
    assert spec.foreground_crop
    assert sorted(e.split for e in VolumeCache(cache).entries()) == ["test", "train"]
    shown = runner.invoke(app, ["inspect", str(data / "images" / "phantom_0001.nii.gz")])
    codes = "".join(sample_torso_parameters(0, 1).disk_axcodes)
    assert shown.exit_code == 0 and f"orientation: {codes}" in shown.stdout
    summary = runner.invoke(app, ["inspect", str(cache)])
    assert "2 entries (2 with labels)" in summary.stdout


def test_user_errors_exit_2_with_a_message_and_no_traceback(tmp_path):
    missing = tmp_path / "nowhere.csv"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "anatomy_ssl",
            "preprocess",
            str(missing),
            "--out",
            str(tmp_path / "c"),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert str(missing) in result.stderr and "not found" in result.stderr
    assert "Traceback" not in result.stderr
    bad_key = subprocess.run(
        [
            sys.executable,
            "-m",
            "anatomy_ssl",
            "preprocess",
            str(tmp_path),
            "--out",
            str(tmp_path / "c"),
            "spacing=2",
        ],
        capture_output=True,
        text=True,
    )
    assert bad_key.returncode == 2 and "unknown key(s) 'spacing'" in bad_key.stderr


def _run_cli(*args):
    """The installed entry point in a fresh process, as a user runs it."""
    command = [sys.executable, "-m", "anatomy_ssl", *(str(arg) for arg in args)]
    return subprocess.run(command, capture_output=True, text=True)


def _huge_header_nifti(path):
    """A 384-byte NIfTI whose header claims 32767^3 float32 voxels (140 TB)."""
    nib.save(nib.Nifti1Image(np.ones((2, 2, 2), np.float32), np.eye(4)), path)
    raw = path.read_bytes()
    header = nib.Nifti1Header(raw[:348], check=False)
    header["dim"] = [3, 32767, 32767, 32767, 1, 1, 1, 1]
    path.write_bytes(header.binaryblock + raw[348:])
    return path


def test_inspect_of_a_header_with_implausible_dimensions_is_a_one_line_error(tmp_path):
    path = _huge_header_nifti(tmp_path / "huge.nii")
    result = _run_cli("inspect", path)
    assert result.returncode == 2, result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"error: {path}: implausible dimensions")
    assert "32767 x 32767 x 32767 voxels of float32" in line


def test_preprocess_rejects_a_header_with_implausible_dimensions_and_goes_on(tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    _huge_header_nifti(images / "huge.nii")
    good = np.random.default_rng(0).normal(size=(8, 9, 10)).astype(np.float32)
    nib.save(nib.Nifti1Image(good, np.eye(4)), images / "good.nii.gz")
    args = ["preprocess", str(tmp_path), "--out", str(tmp_path / "c"), "--intensity", "none"]
    result = runner.invoke(app, [*args, "--no-progress"])
    assert result.exit_code == 0, result.output
    assert len(VolumeCache(tmp_path / "c").entries()) == 1
    (rejects,) = (tmp_path / "c").glob("*/rejected.csv")
    assert "implausible dimensions" in rejects.read_text()
    assert "MemoryError" not in rejects.read_text()


def test_preprocess_spacing_that_is_not_a_number_is_a_one_line_error(tmp_path):
    result = _run_cli("preprocess", tmp_path, "--out", tmp_path / "c", "--spacing", "abc")
    assert result.returncode == 2, result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line == (
        "error: --spacing must be a number or comma-separated numbers in mm "
        "(e.g. 1.5 or 0.8,0.8,2.5), got 'abc'"
    )


@pytest.mark.parametrize(
    ("args", "phrase"),
    [
        (["preprocess", "{tmp}", "--out", "{tmp}/c", "--spacing", "1.5,,2"], "got '1.5,,2'"),
        (["preprocess", "{tmp}", "--out", "{tmp}/c", "--spacing", "1.5x1.5"], "--spacing must"),
        (["inspect", "{tmp}/missing.nii", "--dims", "4"], "--dims must be 2 or 3, got 4"),
    ],
)
def test_option_strings_that_do_not_parse_are_user_errors(tmp_path, args, phrase):
    result = runner.invoke(app, [arg.format(tmp=tmp_path) for arg in args])
    # main() turns an AnatomySSLError into one line on stderr and exit status 2
    assert isinstance(result.exception, AnatomySSLError), result.output
    assert phrase in str(result.exception)


def test_embed_refuses_a_tile_of_zero_before_any_work(tmp_path):
    folders = ["--encoder", str(tmp_path), "--data", str(tmp_path), "--out", str(tmp_path)]
    result = runner.invoke(app, ["embed", *folders, "--tile", "0"])
    assert result.exit_code == 2 and "--tile" in result.output


def test_strict_turns_rejects_into_a_failure(tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    (images / "junk.nii.gz").write_bytes(b"not a volume")
    lenient = runner.invoke(
        app, ["preprocess", str(tmp_path), "--out", str(tmp_path / "c"), "--no-progress"]
    )
    assert lenient.exit_code == 0 and "1 rejected" in lenient.output
    strict = runner.invoke(
        app,
        ["preprocess", str(tmp_path), "--out", str(tmp_path / "c"), "--no-progress", "--strict"],
    )
    assert strict.exit_code == 1


def test_phantom_writes_the_layout_and_a_montage(tmp_path):
    result = runner.invoke(
        app,
        [
            "phantom",
            "--out",
            str(tmp_path),
            "--n",
            "2",
            "--preset",
            "small",
            "--size",
            "32x32x48",
            "--workers",
            "1",
            "--no-progress",
        ],
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "images").iterdir()) == [
        "phantom_0000.nii.gz",
        "phantom_0001.nii.gz",
    ]
    for name in ("labels/level0", "labels/level1", "labels/level2", "landmarks"):
        assert len(list((tmp_path / name).iterdir())) == 2
    for name in ("clinical.csv", "hierarchy.json", "manifest.csv", "montage.png"):
        assert (tmp_path / name).is_file()


@pytest.mark.parametrize(
    "args, phrase",
    [(["--size", "32x32"], "--size must look like"), (["--preset", "huge"], "--preset must be")],
)
def test_phantom_rejects_bad_options(tmp_path, args, phrase):
    result = runner.invoke(app, ["phantom", "--out", str(tmp_path), *args])
    assert result.exit_code != 0 and phrase in str(result.exception)


def test_phantom_xray_writes_2d_radiographs(tmp_path):
    from anatomy_ssl.io import read_volume

    result = runner.invoke(
        app,
        [
            "phantom",
            "--out",
            str(tmp_path),
            "--n",
            "2",
            "--preset",
            "small",
            "--modality",
            "xray",
            "--workers",
            "1",
            "--no-progress",
        ],
    )
    assert result.exit_code == 0, result.output
    image = read_volume(tmp_path / "images" / "phantom_0001.nii.gz", spatial_dims=2)
    assert image.spatial_dims == 2 and image.spacing_mm == (3.0, 3.0)
    assert len(list((tmp_path / "labels" / "level1").iterdir())) == 2


def test_atlas_dataset_writes_tissue_labels_and_a_manifest(tmp_path):
    from anatomy_ssl.io import read_volume
    from anatomy_ssl.manifests import load_manifest
    from anatomy_ssl.phantoms import TISSUE_LABELS

    result = runner.invoke(
        app,
        [
            "atlas-dataset",
            "--out",
            str(tmp_path),
            "--n",
            "2",
            "--preset",
            "small",
            "--resolution",
            "6",
            "--workers",
            "1",
            "--no-progress",
        ],
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "montage.png").stat().st_size > 0
    manifest = load_manifest(tmp_path / "manifest.csv")
    assert [record.subject_id for record in manifest.records] == ["atlas_0000", "atlas_0001"]
    label = read_volume(tmp_path / "labels" / "tissue" / "atlas_0001.nii.gz")
    assert label.spacing_mm == pytest.approx((6.0, 6.0, 6.0))
    assert set(np.unique(label.array).tolist()) <= set(TISSUE_LABELS.values())


def test_atlas_dataset_rejects_a_bad_preset(tmp_path):
    result = runner.invoke(app, ["atlas-dataset", "--out", str(tmp_path), "--preset", "huge"])
    assert result.exit_code != 0 and "preset" in str(result.exception)
    assert not (tmp_path / "manifest.csv").exists()


def test_pretrain_export_embed_on_a_cache(tiny_cache, tmp_path):
    run = tmp_path / "run"
    trained = runner.invoke(
        app,
        [
            "pretrain",
            "--out",
            str(run),
            "--method",
            "moco",
            "--data",
            str(tiny_cache),
            "--encoder",
            "test_resunet",
            "--steps",
            "2",
            "--no-progress",
            "data.split=all",
            "data.crop_size_vox=16",
            "data.batch_size=4",
            "data.workers=0",
            "moco.queue_size=16",
        ],
    )
    assert trained.exit_code == 0, trained.output
    assert "moco on test_resunet: 2 steps" in trained.stdout
    resumed = runner.invoke(app, ["pretrain", "--out", str(run), "--resume", "--no-progress"])
    assert resumed.exit_code == 0 and "nothing to train" in resumed.stdout
    assert "2 steps" in resumed.stdout and "nan" not in resumed.stdout
    extended = runner.invoke(
        app, ["pretrain", "--out", str(run), "--resume", "--steps", "3", "--no-progress"]
    )
    assert extended.exit_code == 0, extended.output
    assert "3 steps" in extended.stdout and "nan" not in extended.stdout
    exported = runner.invoke(app, ["export", str(run), "--out", str(tmp_path / "enc")])
    assert exported.exit_code == 0, exported.output
    assert "exported test_resunet (moco, step 3" in exported.stdout
    embedded = runner.invoke(
        app,
        [
            "embed",
            "--encoder",
            str(tmp_path / "enc"),
            "--data",
            str(tiny_cache),
            "--out",
            str(tmp_path / "emb"),
            "--tile",
            "16",
            "--dense",
            "--no-progress",
        ],
    )
    assert embedded.exit_code == 0, embedded.output
    table = (tmp_path / "emb" / "embeddings.csv").read_text().splitlines()
    assert len(table) == 1 + 4  # header + the four cached volumes
    assert len(list((tmp_path / "emb" / "dense").iterdir())) == 4


def test_a_drasclr_encoder_embeds_patients_over_an_anatomical_frame(
    tiny_cache, tiny_overrides, tmp_path
):
    from anatomy_ssl.export import export_run
    from anatomy_ssl.training.pretrain_config import resolve_pretrain_config
    from anatomy_ssl.training.pretrain_run import pretrain

    pretrain(
        resolve_pretrain_config(tiny_overrides("drasclr", 2)), tmp_path / "run", progress=False
    )
    encoder = export_run(tmp_path / "run", tmp_path / "enc")
    common = ["embed", "--encoder", str(encoder), "--data", str(tiny_cache), "--no-progress"]
    dense = runner.invoke(app, [*common, "--out", str(tmp_path / "dense"), "--dense"])
    assert dense.exit_code != 0 and "needs each patch's location" in str(dense.exception)
    # no --frame: an encoder that needs locations is pooled over a frame of its own crops
    embedded = runner.invoke(app, [*common, "--out", str(tmp_path / "emb"), "--frame-stride", "16"])
    assert embedded.exit_code == 0, embedded.output
    summary = json.loads((tmp_path / "emb" / "embeddings.json").read_text())
    assert summary["pooling"] == "frame" and summary["volumes"] == 4
    assert summary["frame_settings"] == {"patch_vox": 16, "stride_vox": 16}
    patients = np.load(tmp_path / "emb" / "embeddings.npy")  # (N, D)
    locations = np.load(tmp_path / "emb" / "locations.npy")  # (N, L, D)
    assert locations.shape[0] == patients.shape[0] == 4
    np.testing.assert_allclose(np.nanmean(locations, axis=1), patients, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "args, phrase",
    [
        (["--method", "nope"], "method must be one of"),
        (["optim.lrr=1"], "unknown key"),
        (["optim.lr=abc"], "optim.lr must be a number, got 'abc'"),
        (["--data", "/nowhere/at/all.csv"], "/nowhere/at/all.csv"),
    ],
)
def test_pretrain_user_errors_exit_2_naming_the_problem(tmp_path, args, phrase):
    result = runner.invoke(app, ["pretrain", "--out", str(tmp_path / "r"), "--no-progress", *args])
    # main() turns an AnatomySSLError into one line on stderr and exit status 2
    assert isinstance(result.exception, AnatomySSLError), result.output
    assert phrase in str(result.exception)


def test_benchmark_evaluate_and_report(tmp_path):
    suite = tmp_path / "tiny.yaml"
    suite.write_text(
        "name: tiny\nmethods: [scratch]\nworkers: 1\n"
        "datasets:\n  - {name: ct, kind: phantom_ct, subjects: 4, preset: small,\n"
        "     splits: {train: 0.5, test: 0.5}, preprocess: {target_spacing_mm: 8.0},\n"
        "     protocols: [locality]}\n"
        "pretraining: {encoder: test_resunet}\nprotocols: {locality: {patch_vox: 8, k: 1}}\n"
    )
    ran = runner.invoke(
        app, ["benchmark", "--suite", str(suite), "--out", str(tmp_path / "b"), "--no-progress"]
    )
    assert ran.exit_code == 0, ran.output
    assert "[ct] scratch: random init" in ran.stdout and "report:" in ran.stdout
    evaluated = runner.invoke(
        app,
        [
            "evaluate",
            "--encoder",
            str(tmp_path / "b" / "encoders" / "ct" / "scratch"),
            "--data",
            str(tmp_path / "b" / "data" / "ct"),
            "--out",
            str(tmp_path / "records"),
            "-p",
            "correspondence",
            "--method",
            "mine",
            "--no-progress",
            "correspondence.split=all",
            "correspondence.tile_vox=32",
        ],
    )
    assert evaluated.exit_code == 0, evaluated.output
    assert "ct / mine / correspondence seed 0: median_error_mm" in evaluated.stdout
    reported = runner.invoke(
        app, ["report", str(tmp_path / "records"), "--out", str(tmp_path / "r")]
    )
    assert reported.exit_code == 0, reported.output
    assert "Anatomical correspondence" in (tmp_path / "r" / "report.md").read_text()
