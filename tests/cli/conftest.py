"""Reading a command's --help: one row per option, rendered wide enough not to wrap."""

from collections.abc import Callable

import pytest
from typer.testing import CliRunner

from anatomy_ssl.cli.app import app

HELP_COLUMNS = "240"


@pytest.fixture
def help_rows() -> Callable[[list[str]], dict[str, str]]:
    """`[verb] -> {long option: its row}` of that command's --help (`[]`: the root command)."""

    def rows(command: list[str]) -> dict[str, str]:
        result = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": HELP_COLUMNS})
        assert result.exit_code == 0, result.output
        return {
            word: line
            for line in result.output.splitlines()
            for word in line.split()
            if word.startswith("--")
        }

    return rows
