"""The typer groups of the command line are all made here, so that they all print their help the same way.

Their help is plain text: drawing it with rich (typer's default when rich is installed) imports rich, which
would double the time `paperboy --help` takes. Plain click help cuts each command's summary at about 45
characters; these groups print the whole first paragraph of the docstring instead, wrapped.
"""

from __future__ import annotations

import inspect
from typing import Any

import typer
from typer.core import TyperGroup


class WholeSummaryGroup(TyperGroup):
    """A typer group whose command list shows each command's summary whole, wrapped to the terminal."""

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        """The `Commands:` section: each visible command and the first paragraph of its help."""
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is None or command.hidden:
                continue
            text = inspect.cleandoc(command.short_help or command.help or "")
            rows.append((name, " ".join(text.split("\n\n", 1)[0].split())))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def command_group(help_text: str, **options: Any) -> typer.Typer:
    """A typer group with plain-text help and whole command summaries (see the module's docstring)."""
    return typer.Typer(
        help=help_text, no_args_is_help=True, rich_markup_mode=None, cls=WholeSummaryGroup, **options
    )
