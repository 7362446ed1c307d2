"""Changing topics, schedule or posting a digest needs Manage Channels, checked by the bot itself."""

from __future__ import annotations

from typing import Any

from adapters.discord.client import DiscordRunner
from bot.core import Paperboy
from bot.domain import ChannelRef
from tests.discord.conftest import World
from tests.discord.test_commands import is_ephemeral

REFUSAL = "Sorry: Only people with the Manage Channels permission"


async def test_subscribe_without_manage_channels_is_refused_and_changes_nothing(
    world: World, bot: DiscordRunner, paperboy: Paperboy
) -> None:
    record = await world.fake.slash(world.guild, world.channel, "subscribe", topic="robotics", manage=False)
    message = await world.fake.answered(record)
    assert message["content"].startswith(REFUSAL)
    assert is_ephemeral(record.initial.result())
    channel = ChannelRef("discord", str(world.guild), str(world.channel))
    assert await paperboy.topics.of_channel(channel) == []


async def test_unsubscribe_and_digest_without_manage_channels_are_refused(
    world: World, bot: DiscordRunner
) -> None:
    refused: list[tuple[str, dict[str, Any]]] = [("unsubscribe", {"topic": "1"}), ("digest", {})]
    for subcommand, options in refused:
        message = await world.fake.answered(
            await world.fake.slash(world.guild, world.channel, subcommand, manage=False, **options)
        )
        assert message["content"].startswith(REFUSAL), subcommand
    assert world.fake.calls_to("POST", r"/channels/\d+/messages") == []
    assert world.fake.threads_of(world.channel) == []


async def test_anyone_may_see_the_schedule_but_not_change_it(
    world: World, bot: DiscordRunner, paperboy: Paperboy
) -> None:
    shown = await world.fake.answered(await world.fake.slash(world.guild, world.channel, "schedule"))
    assert shown["embeds"][0]["title"] == "Digest schedule of this channel"
    refused = await world.fake.answered(
        await world.fake.slash(world.guild, world.channel, "schedule", state="off", manage=False)
    )
    assert refused["content"].startswith(REFUSAL)
    channel = ChannelRef("discord", str(world.guild), str(world.channel))
    assert not (await paperboy.schedules.get(channel)).paused


async def test_anyone_may_search_and_vote(world: World, bot: DiscordRunner, paperboy: Paperboy) -> None:
    searched = await world.fake.answered(
        await world.fake.slash(world.guild, world.channel, "search", query="matryoshka", manage=False)
    )
    message_id = int(searched["id"])
    voted = await world.fake.answered(
        await world.fake.press(world.guild, message_id, "paperboy:upvote:2205.13147", user_id=77)
    )
    assert voted["content"].startswith("Counted your vote for Matryoshka Representation Learning")
