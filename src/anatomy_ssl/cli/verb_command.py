"""The command classes of `anatomy-ssl`: how the root command and every verb show and parse their
options, where Typer's own behaviour misleads.

- Flags (`--resume`, `--progress/--no-progress`) are shown bare, without the `<bool>` placeholder
  of a value they do not take.
- An unknown option is answered with the options whose names are close to it (`--step` ->
  `--steps`) or none, not with any option that shares its leading dashes (`--bogus` -> `--out`).
- A verb can show the defaults that a config supplies (`VerbCommand.help_defaults`) for options
  that stay None unless given, so that a YAML file still counts when the option is left out.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from typer import _click
from typer._click.exceptions import NoSuchOption
from typer.core import TyperCommand, TyperGroup, TyperOption

CLOSE_MATCH_CUTOFF = 0.6  # difflib's similarity ratio, of option names without their dashes


def close_options(typo: str, params: Iterable[_click.Parameter]) -> list[str]:
    """The long options of `params` whose names are close to `typo`'s, dashes left out."""
    by_name = {
        option.lstrip("-"): option
        for param in params
        for option in (*param.opts, *param.secondary_opts)
        if option.startswith("--")
    }
    names = difflib.get_close_matches(typo.lstrip("-"), list(by_name), cutoff=CLOSE_MATCH_CUTOFF)
    return [by_name[name] for name in names]


@contextmanager
def suggesting_close_options(params: list[_click.Parameter]) -> Iterator[None]:
    """Parsing within: an unknown option's error suggests `close_options` only."""
    try:
        yield
    except NoSuchOption as error:
        error.possibilities = close_options(error.option_name, params)
        raise


def show_flags_bare(params: Iterable[_click.Parameter]) -> None:
    """Blank the value placeholder that Typer's help prints for every option, flags included."""
    for param in params:
        if isinstance(param, TyperOption) and param.is_flag:
            param.metavar = ""


class VerbCommand(TyperCommand):
    """A verb of `anatomy-ssl` (see the module's docstring)."""

    def help_defaults(self) -> dict[str, Any]:
        """Defaults to show in --help for options that stay None unless given (the value then
        comes from a config), by parameter name; a verb with such options overrides this."""
        return {}

    def format_help(self, ctx: _click.Context, formatter: _click.HelpFormatter) -> None:
        show_flags_bare(self.get_params(ctx))
        # help only: --help exits before the command runs, so these values never reach it
        ctx.default_map = {**self.help_defaults(), **(ctx.default_map or {})}
        super().format_help(ctx, formatter)

    def parse_args(self, ctx: _click.Context, args: list[str]) -> list[str]:
        with suggesting_close_options(self.get_params(ctx)):
            return super().parse_args(ctx, args)


class RootCommand(TyperGroup):
    """The `anatomy-ssl` command that holds the verbs (see the module's docstring)."""

    def format_help(self, ctx: _click.Context, formatter: _click.HelpFormatter) -> None:
        show_flags_bare(self.get_params(ctx))
        super().format_help(ctx, formatter)

    def parse_args(self, ctx: _click.Context, args: list[str]) -> list[str]:
        with suggesting_close_options(self.get_params(ctx)):
            return super().parse_args(ctx, args)
