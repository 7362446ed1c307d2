"""Digests on Discord: a thread under a parent message, a forum post, rate limits and channels that fail."""

from __future__ import annotations

import pytest

from adapters.discord.client import DiscordRunner
from adapters.discord.publisher import ChannelUnavailable
from bot.core import Paperboy
from bot.domain import ChannelRef
from tests.discord.conftest import TODAY, StartBot, World
from tests.fakes.discord import BOT_ID, FakeDiscord


def ref(world: World, channel: int) -> ChannelRef:
    """The core's name for a channel of the test guild."""
    return ChannelRef("discord", str(world.guild), str(channel))


async def subscribe(world: World, channel: int, topic: str) -> None:
    """A manager subscribes the channel to a topic."""
    await world.fake.answered(
        await world.fake.slash(world.guild, channel, "subscribe", topic=topic, manage=True)
    )


async def test_digest_in_a_text_channel_is_a_thread_with_one_message_per_paper_best_first(
    world: World, bot: DiscordRunner, paperboy: Paperboy
) -> None:
    await subscribe(world, world.channel, "matryoshka")
    plan = await paperboy.planner.plan(ref(world, world.channel), TODAY)
    assert len(plan.papers) >= 2

    reply = await paperboy.post_digest(ref(world, world.channel))

    assert reply.posted
    parents = world.fake.calls_to("POST", rf"/channels/{world.channel}/messages")
    assert len(parents) == 1
    assert parents[0].body["embeds"][0]["title"].startswith("Trending papers for Wednesday 25 November 2026")
    [thread] = world.fake.threads_of(world.channel)
    assert 1 <= len(thread["name"]) <= 100
    assert thread["thread_metadata"]["auto_archive_duration"] == 1440
    in_thread = world.fake.messages_in(int(thread["id"]))
    titles = [m["embeds"][0]["title"] for m in in_thread]
    assert titles == [f"{n}. {item.paper.title}" for n, item in enumerate(plan.papers, 1)]
    assert all(
        m["components"][0]["components"][0]["custom_id"].startswith("paperboy:upvote:") for m in in_thread
    )


async def test_every_digest_message_carries_a_nonce_discord_enforces(
    world: World, bot: DiscordRunner, paperboy: Paperboy
) -> None:
    await subscribe(world, world.channel, "matryoshka")
    await paperboy.post_digest(ref(world, world.channel))
    posts = world.fake.calls_to("POST", r"/channels/\d+/messages")
    nonces = [c.body["nonce"] for c in posts]
    assert all(c.body["enforce_nonce"] is True for c in posts)
    assert len(set(nonces)) == len(nonces)
    assert all(len(n) <= 25 for n in nonces)


async def test_a_retried_parent_is_posted_once_and_keeps_its_thread(
    world: World, bot: DiscordRunner, paperboy: Paperboy
) -> None:
    await subscribe(world, world.channel, "matryoshka")
    plan = await paperboy.planner.plan(ref(world, world.channel), TODAY)
    digest_id = await paperboy.store.create_digest(plan)
    assert digest_id is not None
    [parent, *_] = await paperboy.store.deliveries_of(digest_id)

    first = await bot.client.publisher.post_parent(plan, parent)
    again = await bot.client.publisher.post_parent(plan, parent)

    assert first == again
    assert len(world.fake.calls_to("POST", rf"/channels/{world.channel}/messages")) == 2
    assert len([m for m in world.fake.messages_in(world.channel) if m["nonce"]]) == 1
    assert len(world.fake.threads_of(world.channel)) == 1


async def test_digest_in_a_forum_is_one_post_with_the_papers_inside(
    world: World, bot: DiscordRunner, paperboy: Paperboy
) -> None:
    await subscribe(world, world.forum, "matryoshka")
    plan = await paperboy.planner.plan(ref(world, world.forum), TODAY)

    reply = await paperboy.post_digest(ref(world, world.forum))

    assert reply.posted
    [post] = world.fake.threads_of(world.forum)
    messages = world.fake.messages_in(int(post["id"]))
    assert messages[0]["embeds"][0]["title"].startswith("Trending papers for")
    assert len(messages) == 1 + len(plan.papers)
    again = await paperboy.post_digest(ref(world, world.forum))
    assert not again.posted
    assert len(world.fake.threads_of(world.forum)) == 1


async def test_nothing_new_posts_nothing(world: World, bot: DiscordRunner) -> None:
    await subscribe(world, world.channel, '"no paper has this phrase"')
    message = await world.fake.answered(
        await world.fake.slash(world.guild, world.channel, "digest", manage=True)
    )
    assert message["content"].startswith("Nothing new to post")
    assert world.fake.calls_to("POST", r"/channels/\d+/messages") == []
    assert world.fake.threads_of(world.channel) == []


async def test_a_429_while_posting_is_waited_out_and_nothing_is_posted_twice(
    world: World, bot: DiscordRunner, paperboy: Paperboy
) -> None:
    await subscribe(world, world.channel, "matryoshka")
    plan = await paperboy.planner.plan(ref(world, world.channel), TODAY)
    world.fake.rate_limit("POST", r"/channels/\d+/messages", retry_after=0.05, times=2)

    reply = await paperboy.post_digest(ref(world, world.channel))

    assert reply.posted
    [thread] = world.fake.threads_of(world.channel)
    titles = [m["embeds"][0]["title"] for m in world.fake.messages_in(int(thread["id"]))]
    assert titles == [f"{n}. {item.paper.title}" for n, item in enumerate(plan.papers, 1)]
    statuses = [c.path for c in world.fake.calls_to("POST", r"/channels/\d+/messages")]
    assert len(statuses) == 1 + len(plan.papers) + 2


async def test_a_channel_that_refuses_the_bot_is_paused_while_others_get_their_digest(
    world: World, bot: DiscordRunner, paperboy: Paperboy
) -> None:
    await subscribe(world, world.channel, "matryoshka")
    await subscribe(world, world.other_channel, "matryoshka")
    world.fake.forbid(world.other_channel)

    failures = []
    for channel in (world.other_channel, world.channel):
        try:
            await paperboy.post_digest(ref(world, channel))
        except ChannelUnavailable as error:
            failures.append((channel, str(error)))

    assert [c for c, _ in failures] == [world.other_channel]
    assert len(world.fake.threads_of(world.channel)) == 1
    settings = await paperboy.schedules.get(ref(world, world.other_channel))
    assert settings.paused
    assert "Missing Permissions" in (settings.pause_reason or "")
    shown = await world.fake.answered(await world.fake.slash(world.guild, world.other_channel, "schedule"))
    paused = {f["name"]: f["value"] for f in shown["embeds"][0]["fields"]}["Paused"]
    assert "Missing Permissions" in paused
    assert not (await paperboy.schedules.get(ref(world, world.channel))).paused


async def test_a_deleted_channel_is_paused_with_the_reason(
    world: World, bot: DiscordRunner, paperboy: Paperboy
) -> None:
    await subscribe(world, world.other_channel, "matryoshka")
    await world.fake.delete_channel(world.other_channel)

    with pytest.raises(ChannelUnavailable):
        await paperboy.post_digest(ref(world, world.other_channel))

    settings = await paperboy.schedules.get(ref(world, world.other_channel))
    assert settings.paused
    assert "deleted" in (settings.pause_reason or "")


async def test_each_digest_paper_gets_the_bots_vote_emoji_to_invite_votes(
    world: World, bot: DiscordRunner, paperboy: Paperboy
) -> None:
    await subscribe(world, world.channel, "matryoshka")
    await paperboy.post_digest(ref(world, world.channel))
    [thread] = world.fake.threads_of(world.channel)
    papers = world.fake.messages_in(int(thread["id"]))
    assert {(int(thread["id"]), int(m["id"]), "👍") for m in papers} == set(world.fake.reactions)
    assert all(m["author"]["id"] == str(BOT_ID) for m in papers)


async def test_a_channel_that_is_itself_a_thread_gets_the_digest_inside_it(
    fake: FakeDiscord, paperboy: Paperboy, start_bot: StartBot
) -> None:
    guild = fake.add_guild("Threads only")
    parent = fake.add_channel(guild, "reading")
    thread = fake.next_id()
    fake.add_thread(parent, "papers-thread", thread)
    await start_bot(paperboy)
    await fake.answered(await fake.slash(guild, thread, "subscribe", topic="matryoshka", manage=True))

    reply = await paperboy.post_digest(ChannelRef("discord", str(guild), str(thread)))

    assert reply.posted
    posted = [m for m in fake.messages_in(thread) if m["nonce"]]
    assert len(posted) == 1 + len(reply.plan.papers)
    assert fake.threads_of(thread) == []


async def test_digest_in_a_channel_that_refuses_the_bot_tells_the_manager_why(
    world: World, bot: DiscordRunner, paperboy: Paperboy
) -> None:
    await subscribe(world, world.other_channel, "matryoshka")
    world.fake.forbid(world.other_channel)
    record = await world.fake.slash(world.guild, world.other_channel, "digest", manage=True)
    message = await world.fake.answered(record)
    assert message["content"].startswith(
        "Sorry: I may not post in this channel (Discord said: Missing Permissions)"
    )
    assert "/papers schedule state:on" in message["content"]
