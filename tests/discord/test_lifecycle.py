"""Connecting (intents, addresses, shards), joining and leaving guilds, and configuration mistakes."""

from __future__ import annotations

import pytest

from adapters.discord.client import DiscordRunner, login_discord
from adapters.discord.config import DiscordConfigError, minimal_intents, parse_shard_ids, shard_plan
from bot.core import Paperboy
from bot.domain import ChannelRef, Vote, Workspace
from tests.discord.conftest import StartBot, World, discord_settings, watch
from tests.fakes.discord import APP_ID, FakeDiscord, snowflake_for_shard

GUILDS_INTENT = 1 << 0
GUILD_MESSAGE_REACTIONS_INTENT = 1 << 10
MESSAGE_CONTENT_INTENT = 1 << 15


async def test_the_bot_asks_only_for_the_intents_it_needs(world: World, bot: DiscordRunner) -> None:
    [identify] = world.fake.identifies
    assert identify["intents"] == GUILDS_INTENT | GUILD_MESSAGE_REACTIONS_INTENT
    assert not identify["intents"] & MESSAGE_CONTENT_INTENT
    assert identify["token"] == "fake-token"
    assert minimal_intents().value == identify["intents"]


async def test_without_a_gateway_url_the_bot_connects_where_the_api_says(
    world: World, paperboy: Paperboy, start_bot: StartBot
) -> None:
    await start_bot(paperboy, DISCORD_GATEWAY_URL=None)
    assert world.fake.calls_to("GET", r"/gateway/bot")
    assert len(world.fake.identifies) == 1


async def test_a_replica_runs_only_its_shards(
    fake: FakeDiscord, paperboy: Paperboy, start_bot: StartBot
) -> None:
    mine = fake.add_guild("on shard 1", snowflake_for_shard(1, 2, seed=1000))
    other = fake.add_guild("on shard 0", snowflake_for_shard(0, 2, seed=2000))
    runner = await start_bot(paperboy, DISCORD_SHARD_COUNT=2, DISCORD_SHARD_IDS="1")
    assert [i["shard"] for i in fake.identifies] == [[1, 2]]
    assert runner.client.get_guild(mine) is not None
    assert runner.client.get_guild(other) is None


async def test_joining_a_guild_syncs_the_commands_there_at_once(world: World, bot: DiscordRunner) -> None:
    new_guild = world.fake.add_guild("Newcomers")
    await world.fake.join_guild(new_guild)
    await world.fake.wait_for_call("PUT", rf"/applications/{APP_ID}/guilds/{new_guild}/commands")
    command, menu = world.fake.guild_commands[new_guild]
    assert command["name"] == "papers"
    assert (menu["name"], menu["type"]) == ("Paper card", 3)
    names = {option["name"] for option in command["options"]}
    assert names == {
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


async def test_joining_a_guild_adds_no_copy_when_the_commands_are_global(
    world: World, bot: DiscordRunner
) -> None:
    world.fake.global_commands = [
        {
            "id": "1",
            "application_id": str(APP_ID),
            "name": "papers",
            "description": "Trending research papers",
            "type": 1,
            "options": [],
            "version": "1",
            "default_member_permissions": None,
            "nsfw": False,
        }
    ]
    new_guild = world.fake.add_guild("Newcomers")
    await world.fake.join_guild(new_guild)
    await world.fake.wait_for_call("GET", rf"/applications/{APP_ID}/commands")
    # A later event, answered, shows the join was handled to the end: the bot left no guild copy.
    await world.fake.answered(await world.fake.slash(world.guild, world.channel, "help"))
    assert new_guild not in world.fake.guild_commands


async def test_a_guild_that_removes_the_bot_loses_its_channel_data(
    world: World, bot: DiscordRunner, paperboy: Paperboy, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = world.fake
    await fake.answered(
        await fake.slash(world.guild, world.channel, "subscribe", topic="matryoshka", manage=True)
    )
    await paperboy.votes.cast(Vote("discord", str(world.guild), "501", "2205.13147"))
    channel = ChannelRef("discord", str(world.guild), str(world.channel))
    deleted = watch(monkeypatch, paperboy.store, "delete_workspace")

    await fake.remove_from_guild(world.guild)

    assert await deleted.called() == [(Workspace("discord", str(world.guild)),)]
    assert await paperboy.topics.of_channel(channel) == []
    assert await paperboy.votes.count("2205.13147", Workspace("discord", str(world.guild))) == 0


async def test_a_deleted_channel_is_paused(
    world: World, bot: DiscordRunner, paperboy: Paperboy, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = world.fake
    await fake.answered(
        await fake.slash(world.guild, world.channel, "subscribe", topic="matryoshka", manage=True)
    )
    channel = ChannelRef("discord", str(world.guild), str(world.channel))
    paused = watch(monkeypatch, paperboy.schedules, "pause")

    await fake.delete_channel(world.channel)

    await paused.called()
    settings = await paperboy.schedules.get(channel)
    assert settings.paused
    assert "deleted" in (settings.pause_reason or "")


async def test_a_missing_token_or_bad_shards_are_explained(fake: FakeDiscord, paperboy: Paperboy) -> None:
    with pytest.raises(DiscordConfigError, match="DISCORD_TOKEN"):
        await login_discord(discord_settings(fake, DISCORD_TOKEN=None), paperboy.store)
    with pytest.raises(DiscordConfigError, match="DISCORD_TOKEN"):
        await login_discord(discord_settings(fake, DISCORD_TOKEN=" "), paperboy.store)
    with pytest.raises(DiscordConfigError, match="DISCORD_SHARD_COUNT"):
        await login_discord(discord_settings(fake, DISCORD_SHARD_IDS="0,1"), paperboy.store)


async def test_a_refused_token_is_explained(fake: FakeDiscord, paperboy: Paperboy) -> None:
    fake.fail("GET", r"/users/@me", 401, {"message": "401: Unauthorized", "code": 0})
    with pytest.raises(DiscordConfigError, match="refused DISCORD_TOKEN"):
        await login_discord(discord_settings(fake), paperboy.store)


def test_shard_ids_accept_lists_and_ranges() -> None:
    assert parse_shard_ids("0-2, 5,7-8") == (0, 1, 2, 5, 7, 8)
    assert shard_plan(4, "1,3").shard_ids == (1, 3)
    assert shard_plan(None, None).shard_count is None
    with pytest.raises(DiscordConfigError, match="does not exist"):
        shard_plan(2, "2")
    with pytest.raises(DiscordConfigError, match="like 0,1,2"):
        parse_shard_ids("one")
