import os
from pathlib import Path

from typer.testing import CliRunner

from anatomy_ssl.cli.app import app
from anatomy_ssl.errors import ManifestError
from anatomy_ssl.io import Volume, write_nifti
from anatomy_ssl.phantoms import make_ct_like_volume
from anatomy_ssl.preprocess import PreprocessSpec

runner = CliRunner()


def _write_case(path: Path) -> Path:
    generated = make_ct_like_volume((20, 18, 16), (2.0, 2.0, 2.5), seed=0)
    return write_nifti(Volume(generated.hu[None], generated.affine), path)


def test_root_refuses_a_manifest_row_outside_it_before_any_work(tmp_path: Path) -> None:
    root = tmp_path / "root"
    _write_case(root / "a.nii.gz")
    (tmp_path / "passwd").write_text("root:x:0:0\n", encoding="utf-8")
    listing = root / "list.csv"
    listing.write_text("image\na.nii.gz\n../passwd\n", encoding="utf-8")
    args = ["preprocess", str(listing), "--out", str(tmp_path / "cache"), "--no-progress"]
    confined = runner.invoke(app, [*args, "--root", str(root)])
    assert isinstance(confined.exception, ManifestError)
    assert confined.exception.problems == [
        f"line 3: image {tmp_path / 'passwd'} is outside the root {root}"
    ]
    assert not (tmp_path / "cache").exists()
    free = runner.invoke(app, args)  # not confined: followed, and rejected as not an image
    assert free.exit_code == 0, free.output
    assert "1 written" in free.stdout and "1 rejected" in free.stdout


def test_a_file_name_that_is_not_utf8_is_reported_and_counts_for_strict(tmp_path: Path) -> None:
    data = tmp_path / "data"
    _write_case(data / "ok.nii.gz")
    latin1 = Path(os.fsdecode(os.fsencode(data) + b"/caf\xe9.nii.gz"))
    latin1.write_bytes((data / "ok.nii.gz").read_bytes())
    args = ["preprocess", str(data), "--out", str(tmp_path / "cache"), "--no-progress"]
    lenient = runner.invoke(app, args)
    assert lenient.exit_code == 0, lenient.output
    assert "1 written" in lenient.stdout
    assert f"rejected {os.fsencode(latin1)!r}: name is not UTF-8" in lenient.stderr
    assert runner.invoke(app, [*args, "--strict"]).exit_code == 1


def test_help_shows_the_spec_defaults(help_rows) -> None:
    spec = PreprocessSpec()
    rows = help_rows(["preprocess"])
    assert f"[default: {spec.intensity}]" in rows["--intensity"]
    assert f"[default: {spec.spatial_dims}]" in rows["--dims"]
    crop = "foreground-crop" if spec.foreground_crop else "no-foreground-crop"
    assert f"[default: {crop}]" in rows["--foreground-crop"]
