"""`/papers top`, the schedule's recap option and the weekly recap on Discord, through the real discord.py
client and the fake gateway and REST API."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from adapters.discord.client import DiscordRunner
from bot.core import Paperboy
from bot.domain import MAX_TOPICS, ChannelRef, Vote
from bot.services.delivery import DeliveryEngine
from bot.services.due_digests import DigestScheduler
from bot.services.pacing import DeliveryPolicy
from storage.sql import SqlStore
from tests.clock import FixedClock
from tests.discord.conftest import World
from tests.discord.test_commands import buttons, embed_text, is_ephemeral

MATRYOSHKA = "2205.13147"


async def votes(paperboy: Paperboy, workspace: str, arxiv_id: str, *users: str) -> None:
    """Votes cast a day before the core's clock (the store itself dates votes by the real clock)."""
    assert isinstance(paperboy.store, SqlStore)
    voter = SqlStore(paperboy.store.engine, clock=FixedClock(paperboy.clock.now() - timedelta(days=1)))
    for user in users:
        await voter.cast_vote(Vote("discord", workspace, user, arxiv_id))


async def weekly_tick(paperboy: Paperboy) -> int:
    """One scheduler tick at the core's clock and every delivery it queued, through the Discord adapter."""
    engine = DeliveryEngine(paperboy.store, policy=DeliveryPolicy(paces={}), clock=paperboy.clock)
    scheduler = DigestScheduler(paperboy.store, paperboy.planner, engine, paperboy.clock)
    return await engine.run(paperboy.publishers, until_idle=True, producer=scheduler.tick({"discord"}))


def recaps_in(world: World, channel: int) -> list[dict[str, Any]]:
    """The recap messages in a channel (the schedule's answer is there too)."""
    return [
        m
        for m in world.fake.messages_in(channel)
        if m["embeds"] and str(m["embeds"][0].get("title", "")).startswith("This week's most voted papers")
    ]


async def quiet_recap_channel(world: World, paperboy: Paperboy, channel: int) -> None:
    """The channel's recap on Wednesday (the core's day); its daily digest has nothing to post."""
    await world.fake.answered(
        await world.fake.slash(world.guild, channel, "schedule", recap="wednesday", manage=True)
    )
    ref = ChannelRef("discord", str(world.guild), str(channel))
    await paperboy.store.subscribe_topic(ref, '"no paper says this"', limit=MAX_TOPICS)


async def test_top_lists_this_servers_votes_for_the_channel(
    world: World, bot: DiscordRunner, paperboy: Paperboy
) -> None:
    await votes(paperboy, str(world.guild), MATRYOSHKA, "1", "2", "3")
    await votes(paperboy, "999", "2206.00001", *(str(n) for n in range(10)))

    record = await world.fake.slash(world.guild, world.channel, "top", window="week")
    message = await world.fake.answered(record)

    embed = message["embeds"][0]
    assert not is_ephemeral(record.initial.result())
    assert embed["title"] == "Most voted papers of the week in this workspace"
    assert [f["name"] for f in embed["fields"]] == ["1. Matryoshka Representation Learning"]
    assert embed["fields"][0]["value"].startswith("**3 votes**")
    assert buttons(message)[0]["custom_id"] == f"paperboy:upvote:{MATRYOSHKA}"


async def test_top_with_no_votes_says_how_to_vote(world: World, bot: DiscordRunner) -> None:
    message = await world.fake.answered(
        await world.fake.slash(world.guild, world.channel, "top", window="all")
    )
    assert message["content"].startswith("Nobody here voted for a paper yet")


async def test_the_schedule_shows_and_changes_the_recap_day(world: World, bot: DiscordRunner) -> None:
    changed = await world.fake.answered(
        await world.fake.slash(world.guild, world.channel, "schedule", recap="monday", manage=True)
    )
    refused = await world.fake.answered(
        await world.fake.slash(world.guild, world.channel, "schedule", recap="off")
    )
    fields = {f["name"]: f["value"] for f in changed["embeds"][0]["fields"]}
    assert changed["embeds"][0]["title"] == "Weekly recap saved."
    assert fields["Weekly recap"].startswith("Mondays, next <t:")
    assert "Manage Channels" in refused["content"]
    help_text = embed_text(
        await world.fake.answered(await world.fake.slash(world.guild, world.channel, "help"))
    )
    assert "/papers top" in help_text and "/papers schedule recap:" in help_text


async def test_the_weekly_recap_is_a_parent_with_a_thread_of_the_most_voted_papers(
    world: World, bot: DiscordRunner, paperboy: Paperboy
) -> None:
    await quiet_recap_channel(world, paperboy, world.channel)
    today = paperboy.clock.now().date()
    papers = await paperboy.store.papers_featured_between(today - timedelta(days=3), today)
    for number, paper in enumerate(papers[:2], 1):
        await votes(paperboy, str(world.guild), paper.arxiv_id, *(str(n) for n in range(3 - number)))

    posted = await weekly_tick(paperboy)
    again = await weekly_tick(paperboy)

    [parent] = recaps_in(world, world.channel)
    embed = parent["embeds"][0]
    assert (posted, again) == (3, 0)
    assert embed["title"] == "This week's most voted papers (to Wednesday 25 November 2026)"
    assert embed["description"].startswith(f"This week in <#{world.channel}>: ")
    assert (
        "**2 votes**" in embed["description"]
        and "2 papers voted for in this workspace" in embed["description"]
    )
    [thread] = world.fake.threads_of(world.channel)
    assert thread["name"] == "This week · 2026-11-25"
    titles = [m["embeds"][0]["title"] for m in world.fake.messages_in(int(thread["id"]))]
    assert titles == [f"{n}. {p.title}" for n, p in enumerate(papers[:2], 1)]


async def test_a_recap_of_one_paper_is_one_message_without_a_thread(
    world: World, bot: DiscordRunner, paperboy: Paperboy
) -> None:
    await quiet_recap_channel(world, paperboy, world.other_channel)
    await votes(paperboy, str(world.guild), MATRYOSHKA, "1")

    await weekly_tick(paperboy)

    [message] = recaps_in(world, world.other_channel)
    assert "Matryoshka Representation Learning" in message["embeds"][0]["description"]
    assert world.fake.threads_of(world.other_channel) == []
    ref = ChannelRef("discord", str(world.guild), str(world.other_channel))
    assert await paperboy.store.paper_for_message(ref, str(message["id"])) == MATRYOSHKA
