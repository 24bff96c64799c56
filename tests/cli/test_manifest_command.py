import csv
import os
from pathlib import Path

from typer.testing import CliRunner

from anatomy_ssl.cli.app import app
from anatomy_ssl.errors import ConfigError, ManifestError

runner = CliRunner()


def test_a_file_name_that_is_not_utf8_is_reported_and_the_manifest_is_written(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "ok.nii.gz").write_bytes(b"")
    latin1 = Path(os.fsdecode(os.fsencode(data) + b"/caf\xe9.nii.gz"))  # b"caf\xe9": Latin-1
    latin1.write_bytes(b"")
    out = tmp_path / "manifest.csv"
    result = runner.invoke(app, ["manifest", str(data), "--out", str(out), "--split", "train=1"])
    assert result.exit_code == 0, result.output  # was a UnicodeEncodeError while writing
    assert f"rejected {os.fsencode(latin1)!r}: name is not UTF-8" in result.stderr
    assert "1 rejected, not in the manifest" in result.stderr
    with out.open(encoding="utf-8", newline="") as handle:
        assert [row["image"] for row in csv.DictReader(handle)] == ["data/ok.nii.gz"]


def test_root_confines_the_manifest_and_names_the_escaping_row(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "images").mkdir(parents=True)
    (root / "images" / "a.nii.gz").write_bytes(b"")
    (tmp_path / "elsewhere.nii.gz").write_bytes(b"")
    listing = root / "list.csv"
    listing.write_text("image\nimages/a.nii.gz\n../elsewhere.nii.gz\n", encoding="utf-8")
    out = tmp_path / "out.csv"
    free = runner.invoke(app, ["manifest", str(listing), "--out", str(out), "--split", "train=1"])
    assert free.exit_code == 0, free.output  # without --root, relative paths may leave
    confined = runner.invoke(
        app,
        ["manifest", str(listing), "--out", str(tmp_path / "c.csv"), "--root", str(root)],
    )
    assert isinstance(confined.exception, ManifestError)  # `main` turns it into exit status 2
    assert confined.exception.problems == [
        f"line 3: image {tmp_path / 'elsewhere.nii.gz'} is outside the root {root}"
    ]
    assert not (tmp_path / "c.csv").exists()


def test_a_split_fraction_that_is_not_a_number_is_a_user_error(tmp_path: Path) -> None:
    (tmp_path / "a.nii.gz").write_bytes(b"")
    out = tmp_path / "m.csv"
    result = runner.invoke(
        app, ["manifest", str(tmp_path), "--out", str(out), "--split", "train=abc"]
    )
    # a ConfigError, which the entry point prints as one line with exit 2 (was a ValueError)
    assert isinstance(result.exception, ConfigError), result.exception
    assert "--split: 'abc' is not a number" in str(result.exception)
