"""What `paperboy discord sync|invite-url` do on Discord's side; imported (with discord.py) only when they run."""

from __future__ import annotations

from typing import cast

import aiohttp
import discord
from discord import app_commands

from adapters.discord.commands import PapersGroup
from adapters.discord.config import DiscordConfigError, point_discord_at
from adapters.discord.link_cards import paper_card_menu
from adapters.settings import Settings
from bot.core import Paperboy

# What the bot does in a channel: read it, post embeds (and a .bib file), start threads and post in them, add
# the 👍 that invites votes, and read the history a thread is started from.
INVITE_PERMISSIONS = discord.Permissions(
    view_channel=True,
    send_messages=True,
    send_messages_in_threads=True,
    create_public_threads=True,
    embed_links=True,
    attach_files=True,
    add_reactions=True,
    read_message_history=True,
)
INVITE_SCOPES = ("bot", "applications.commands")


class _NoCore:
    """Stands in for the core where commands are only described to Discord, never run."""

    def __getattr__(self, name: str) -> None:
        raise RuntimeError("command definitions only: no core is running in `paperboy discord sync`")


def command_tree(client: discord.Client) -> app_commands.CommandTree[discord.Client]:
    """The `/papers` commands and the "Paper card" message command as Discord sees them, without a core."""
    tree: app_commands.CommandTree[discord.Client] = app_commands.CommandTree(client)
    tree.add_command(PapersGroup(cast(Paperboy, _NoCore())))
    tree.add_command(paper_card_menu(cast(Paperboy, _NoCore())))
    return tree


def invite_url(client_id: int) -> str:
    """The OAuth2 link that adds the bot to a server with the permissions it needs and its commands."""
    return discord.utils.oauth_url(client_id, permissions=INVITE_PERMISSIONS, scopes=INVITE_SCOPES)


async def _logged_in(settings: Settings) -> discord.Client:
    if settings.discord_token is None or not settings.discord_token.get_secret_value().strip():
        raise DiscordConfigError("Set DISCORD_TOKEN to the bot token from the Discord developer portal.")
    point_discord_at(settings.discord_api_url, settings.discord_gateway_url)
    client = discord.Client(intents=discord.Intents.none(), allowed_mentions=discord.AllowedMentions.none())
    try:
        await client.login(settings.discord_token.get_secret_value())
    except discord.LoginFailure:
        await client.close()
        raise DiscordConfigError(
            "Discord refused DISCORD_TOKEN; copy the bot token again from the portal."
        ) from None
    except BaseException:
        await client.close()
        raise
    return client


async def sync_commands(
    settings: Settings, *, guild_id: int | None = None, clear_guild_copies: bool = True
) -> str:
    """Register `/papers` globally (or in one guild, where it shows at once); say what was done."""
    client = await _logged_in(settings)
    try:
        tree = command_tree(client)
        if guild_id is not None:
            guild = discord.Object(guild_id)
            tree.copy_global_to(guild=guild)
            synced = await tree.sync(guild=guild)
            return f"Synced {len(synced)} command(s) to guild {guild_id}; they show there at once."
        synced = await tree.sync()
        cleared = 0
        if clear_guild_copies:
            # Guild copies made when the bot joined a guild would now show twice next to the global ones.
            async for joined in client.fetch_guilds(limit=None):
                if await tree.fetch_commands(guild=joined):
                    await tree.sync(guild=joined)
                    cleared += 1
        note = f"; removed the guild copies in {cleared} guild(s)" if cleared else ""
        return (
            f"Synced {len(synced)} global command(s){note}. Discord can take up to an hour to show "
            "changes everywhere."
        )
    finally:
        await client.close()


async def application_id(settings: Settings) -> int:
    """The bot's application (client) id, asked from Discord with the token."""
    client = await _logged_in(settings)
    try:
        assert client.application_id is not None
        return client.application_id
    finally:
        await client.close()


# What makes a Discord call fail for a reason the operator can fix (a token, the network).
DISCORD_FAILURES = (DiscordConfigError, discord.HTTPException, aiohttp.ClientError, OSError)
