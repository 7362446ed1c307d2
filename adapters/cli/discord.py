"""`paperboy discord sync` and `paperboy discord invite-url`: command sync and the link that adds the bot.

The group is declared here without discord.py, so that `paperboy --help` stays fast; the commands load
`adapters.cli.discord_setup` (and discord.py with it) when they run.
"""

from __future__ import annotations

import importlib
from typing import Annotated, Any

import typer

from adapters.cli.collector import resume_collector
from adapters.cli.exits import fail
from adapters.cli.groups import command_group

discord_app = command_group("Discord: sync the /papers commands, print the invite link.")

# Names that lived here before the split, still importable from this module (loading discord.py on first use).
_MOVED_TO_SETUP = frozenset(
    {"INVITE_PERMISSIONS", "INVITE_SCOPES", "application_id", "command_tree", "invite_url", "sync_commands"}
)


def __getattr__(name: str) -> Any:
    """`adapters.cli.discord.sync_commands` and the like, from `adapters.cli.discord_setup`."""
    if name in _MOVED_TO_SETUP:
        return getattr(importlib.import_module("adapters.cli.discord_setup"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@discord_app.command("sync")
def sync_command(
    guild: Annotated[
        int | None, typer.Option(help="Sync to this guild only (shows at once), for testing.")
    ] = None,
    keep_guild_copies: Annotated[
        bool, typer.Option(help="Leave the per-guild copies made when the bot joined guilds.")
    ] = False,
) -> None:
    """Register the /papers commands with Discord (globally unless --guild is given)."""
    import asyncio

    from adapters.cli.discord_setup import DISCORD_FAILURES, sync_commands
    from adapters.settings import Settings

    settings = Settings()
    resume_collector()
    try:
        message = asyncio.run(
            sync_commands(settings, guild_id=guild, clear_guild_copies=not keep_guild_copies)
        )
    except DISCORD_FAILURES as error:
        raise fail(f"Could not sync the commands: {error}") from None
    typer.echo(message)


@discord_app.command("invite-url")
def invite_url_command(
    client_id: Annotated[
        int | None,
        typer.Option("--client-id", help="The application id; asked from Discord with DISCORD_TOKEN."),
    ] = None,
) -> None:
    """Print the link that adds the bot to a server."""
    import asyncio

    from adapters.cli.discord_setup import DISCORD_FAILURES, application_id, invite_url
    from adapters.settings import Settings

    if client_id is None:
        resume_collector()
        try:
            client_id = asyncio.run(application_id(Settings()))
        except DISCORD_FAILURES as error:
            raise fail(f"Could not ask Discord for the application id: {error}; pass --client-id.") from None
    typer.echo(invite_url(client_id))
