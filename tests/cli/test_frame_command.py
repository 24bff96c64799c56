"""`anatomy-ssl frame`: a smoke run that prints the report line, sparse and rejected subjects on
stderr, its defaults in --help, and user errors as one line with exit status 2."""

import sys

import numpy as np
import pytest
from typer.testing import CliRunner

from anatomy_ssl.cli.app import app, main
from anatomy_ssl.cli.frame_command import parse_region_labels
from anatomy_ssl.errors import ConfigError
from anatomy_ssl.preprocess import PreprocessSpec, VolumeCache
from support.coordinate_volumes import write_test_entry

AFFINE = np.diag([4.0, 4.0, 4.0, 1.0])


def _blob(shift: int) -> np.ndarray:
    """`(1, 20, 20, 20)` float32: a bright ellipsoid moved `shift` voxels along axis 0."""
    grid = np.stack(np.meshgrid(*[np.arange(20)] * 3, indexing="ij"), axis=-1) - 10.0
    radius = np.linalg.norm((grid - [shift, 1, -1]) / [6.0, 5.0, 7.0], axis=-1)
    return (1 / (1 + np.exp((radius - 1) * 6))[None]).astype(np.float32)


@pytest.fixture
def cache(tmp_path):
    folder = VolumeCache(tmp_path / "cache").register_spec(PreprocessSpec())
    for name, shift in (("a", 0), ("b", 2), ("c", -1)):
        write_test_entry(folder, name, _blob(shift), AFFINE)
    return tmp_path / "cache"


def _main(monkeypatch, capsys, *args):
    """Run the console entry point in this process; returns (exit status, stdout, stderr)."""
    monkeypatch.setattr(sys, "argv", ["anatomy-ssl", *(str(arg) for arg in args)])
    with pytest.raises(SystemExit) as exit_:
        main()
    captured = capsys.readouterr()
    return exit_.value.code, captured.out, captured.err


def test_frame_prints_the_report_line_and_a_rerun_skips(cache):
    args = ["frame", "--cache", str(cache), "--patch", "6", "--stride", "4", "-j", "1"]
    result = CliRunner().invoke(app, [*args, "--no-progress"])
    assert result.exit_code == 0, result.output
    (line,) = result.stdout.splitlines()
    assert line.startswith("frame 0/1: 3 subjects -> 3 framed, 0 already framed, 0 rejected,")
    assert "locations on a (body foreground)" in line and "/frame/" in line
    assert len(list(cache.glob("*/frame/*/[abc].npz"))) == 3
    again = CliRunner().invoke(app, [*args, "--no-progress"])
    assert "0 framed, 3 already framed" in again.stdout


def test_rejected_subjects_are_listed_on_stderr(cache):
    folder = VolumeCache(cache).spec_folder(PreprocessSpec().hash)
    write_test_entry(folder, "z-blank", np.zeros((1, 20, 20, 20), np.float32), AFFINE)
    args = ["frame", "--cache", str(cache), "--patch", "6", "--stride", "4", "--no-progress"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "3 framed, 0 already framed, 1 rejected" in result.stdout
    assert "rejected z-blank (z-blank): RegistrationError" in result.stderr
    assert "1 reject row(s): see " in result.stderr and "rejects.csv" in result.stderr


@pytest.mark.parametrize(
    ("args", "start", "problem"),
    [
        (["--shard", "3/2"], "error: shard must be", "got 3/2"),
        (["--cache", "{tmp}/nowhere"], "error: {tmp}/nowhere", "no such cache folder"),
        (["--region-labels", "lungs"], "error: --region-labels", "got 'lungs'"),
        (["--region-labels", "1"], "error: {tmp}/cache/", "subject 'a' has no label map"),
        (["--reference", "nobody"], "error: {tmp}/cache/", "no entry with key or subject id"),
    ],
)
def test_user_errors_are_one_line_and_exit_2(
    cache, tmp_path, monkeypatch, capsys, args, start, problem
):
    args = [arg.format(tmp=tmp_path) for arg in args]
    status, out, err = _main(
        monkeypatch, capsys, "frame", "--cache", cache, "--patch", "6", *args, "--no-progress"
    )
    assert status == 2 and out == ""
    (line,) = err.strip().splitlines()
    assert line.startswith(start.format(tmp=tmp_path)) and problem in line
    assert not list(cache.glob("*/frame/*/*.npz"))


def test_region_labels_parse():
    assert parse_region_labels("1,2") == (1, 2) and parse_region_labels(None) is None
    with pytest.raises(ConfigError, match="comma-separated"):
        parse_region_labels("1;2")


def test_help_shows_the_defaults(help_rows):
    rows = help_rows(["frame"])
    assert "[default: 32]" in rows["--patch"] and "[default: 26]" in rows["--stride"]
    assert "[default: 0.1]" in rows["--min-coverage"] and "[default: 0/1]" in rows["--shard"]
    assert "[default: 1]" in rows["--workers"] and "[required]" in rows["--cache"]
    assert "body foreground" in rows["--region-labels"] and "[default: all]" in rows["--split"]
