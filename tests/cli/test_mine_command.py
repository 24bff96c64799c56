"""`anatomy-ssl mine`: a smoke run that prints the report line, its defaults in --help, and user
errors as one line with exit status 2."""

import sys

import numpy as np
import pytest
from typer.testing import CliRunner

from anatomy_ssl.cli.app import app, main
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


def test_mine_prints_the_report_line(cache):
    args = ["mine", "--cache", str(cache), "--matcher", "registration", "-j", "1"]
    result = CliRunner().invoke(app, [*args, "--partners", "2", "--points", "8", "--no-progress"])
    assert result.exit_code == 0, result.output
    (line,) = result.stdout.splitlines()
    assert line.startswith("mine 0/1: 3 sources -> 3 mined, 0 already mined, 0 rejected;")
    assert "pairs/s" in line and "/mined/" in line
    assert len(list(cache.glob("*/mined/*/*.npz"))) == 3


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--shard", "3/2"], "error: shard must be i/N with N >= 1 and 0 <= i < N, got 3/2"),
        (["--cache", "{tmp}/nowhere"], "error: {tmp}/nowhere: no such cache folder"),
        (["--matcher", "{tmp}/no-encoder"], "error: {tmp}/no-encoder: no such encoder folder"),
    ],
)
def test_user_errors_are_one_line_and_exit_2(cache, tmp_path, monkeypatch, capsys, args, message):
    args = [arg.format(tmp=tmp_path) for arg in args]
    status, out, err = _main(monkeypatch, capsys, "mine", "--cache", cache, *args, "--no-progress")
    assert status == 2 and out == ""
    (line,) = err.strip().splitlines()
    assert line.startswith(message.format(tmp=tmp_path))
    assert not list(cache.glob("*/mined/*/*.npz"))


def test_help_shows_the_defaults(help_rows):
    rows = help_rows(["mine"])
    assert "[default: registration]" in rows["--matcher"]
    assert "[default: 4]" in rows["--partners"] and "[default: 64]" in rows["--points"]
    assert "[default: 0]" in rows["--seed"] and "[default: 0/1]" in rows["--shard"]
    assert "[default: 1]" in rows["--workers"] and "[required]" in rows["--cache"]
