import pytest
import typer
from typer.testing import CliRunner

from anatomy_ssl.cli.app import app

runner = CliRunner()
EVERY_VERB = sorted(typer.main.get_command(app).commands)
EVERY_COMMAND = [[], *[[verb] for verb in EVERY_VERB]]


@pytest.mark.parametrize("command", EVERY_COMMAND, ids=lambda c: " ".join(c) or "root")
def test_flags_are_shown_without_a_value_placeholder(command, help_rows):
    rows = help_rows(command)
    assert "--help" in rows
    assert [row for row in rows.values() if "<bool>" in row] == []


@pytest.mark.parametrize("command", EVERY_COMMAND, ids=lambda c: " ".join(c) or "root")
def test_an_unknown_option_suggests_nothing_unless_something_is_close(command):
    result = runner.invoke(app, [*command, "--bogus"])
    assert result.exit_code == 2
    assert "No such option: --bogus" in result.output
    assert "Possible options" not in result.output


@pytest.mark.parametrize(
    "command, typo, suggestion",
    [
        ([], "--verbos", "--verbose"),
        (["pretrain"], "--step", "--steps"),
        (["pretrain"], "--encodr", "--encoder"),
        (["preprocess"], "--worker", "--workers"),
    ],
)
def test_a_misspelt_option_suggests_the_close_one(command, typo, suggestion):
    result = runner.invoke(app, [*command, typo, "1"])
    assert result.exit_code == 2
    assert f"No such option: {typo}" in result.output
    assert suggestion in result.output.split("Possible options:")[1]
