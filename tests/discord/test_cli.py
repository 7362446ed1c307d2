"""`paperboy discord sync` and `paperboy discord invite-url`."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import discord
from typer.testing import CliRunner

from adapters.cli.discord import INVITE_PERMISSIONS, discord_app, invite_url, sync_commands
from tests.discord.conftest import discord_settings
from tests.fakes.discord import APP_ID, FakeDiscord


def test_invite_url_asks_for_the_bot_and_its_commands_with_the_needed_permissions() -> None:
    result = CliRunner().invoke(discord_app, ["invite-url", "--client-id", "123456789"])
    assert result.exit_code == 0
    query = parse_qs(urlsplit(result.output.strip()).query)
    assert query["client_id"] == ["123456789"]
    assert query["scope"] == ["bot applications.commands"]
    granted = discord.Permissions(int(query["permissions"][0]))
    assert granted == INVITE_PERMISSIONS
    assert granted.send_messages_in_threads and granted.create_public_threads and granted.embed_links
    assert not granted.administrator and not granted.mention_everyone


async def test_invite_url_without_a_client_id_asks_discord(fake: FakeDiscord) -> None:
    from adapters.cli.discord import application_id

    assert invite_url(await application_id(discord_settings(fake))).startswith(
        f"https://discord.com/oauth2/authorize?client_id={APP_ID}"
    )


async def test_sync_registers_the_papers_group_globally_and_removes_guild_copies(fake: FakeDiscord) -> None:
    joined = fake.add_guild("joined earlier")
    fake.guild_commands[joined] = [
        {
            "id": "9",
            "application_id": str(APP_ID),
            "guild_id": str(joined),
            "name": "papers",
            "description": "old copy",
            "type": 1,
            "options": [],
            "version": "1",
        }
    ]
    untouched = fake.add_guild("never had a copy")

    said = await sync_commands(discord_settings(fake))

    command, menu = fake.global_commands
    assert command["name"] == "papers"
    assert (menu["name"], menu["type"]) == ("Paper card", 3)  # a message command (Apps → Paperboy)
    subcommands = {o["name"]: o for o in command["options"]}
    assert set(subcommands) == {
        "search",
        "trending",
        "top",
        "paper",
        "cite",
        "subscribe",
        "unsubscribe",
        "topics",
        "schedule",
        "digest",
        "similar",
        "help",
        "me",
    }
    me = subcommands["me"]
    assert me["type"] == 2  # a subcommand group: Discord nests at most command → group → subcommand
    assert [o["name"] for o in me["options"]] == [
        "subscribe",
        "unsubscribe",
        "topics",
        "schedule",
        "digest",
        "votes",
        "cite",
        "forget",
        "help",
    ]
    assert all(o["type"] == 1 for o in me["options"])
    window = next(o for o in subcommands["trending"]["options"] if o["name"] == "window")
    assert [c["value"] for c in window["choices"]] == ["day", "week", "month"]
    zone = next(o for o in subcommands["schedule"]["options"] if o["name"] == "timezone")
    assert zone["autocomplete"] is True
    assert fake.guild_commands[joined] == []
    assert not fake.calls_to("PUT", rf"/applications/{APP_ID}/guilds/{untouched}/commands")
    assert said.startswith("Synced 2 global command(s); removed the guild copies in 1 guild(s).")


async def test_sync_to_one_guild_shows_there_at_once(fake: FakeDiscord) -> None:
    guild = fake.add_guild("testing")
    said = await sync_commands(discord_settings(fake), guild_id=guild)
    assert [c["name"] for c in fake.guild_commands[guild]] == ["papers", "Paper card"]
    assert fake.global_commands == []
    assert said == f"Synced 2 command(s) to guild {guild}; they show there at once."
