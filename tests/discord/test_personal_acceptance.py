"""A person's own Paperboy on Discord, on SQLite and PostgreSQL: two servers kept apart, a DM digest adopted after
a crash instead of sent twice, and leaving a server forgetting the person there (Server Members Intent on)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from adapters.discord.client import DiscordRunner
from adapters.discord.config import point_discord_at
from bot.core import Paperboy
from bot.domain import Workspace
from bot.services.delivery import DeliveryEngine
from bot.services.pacing import DeliveryPolicy, PlatformPace
from storage.search.index import open_index
from storage.sql import SqlStore
from tests.discord.conftest import TODAY, StartBot, World, discord_core, watch
from tests.discord.test_personal import MATRYOSHKA, PERSON, me, person
from tests.fakes.discord import GATEWAY_GUILD_MEMBERS_LIMITED, GUILD_MEMBERS_INTENT, FakeDiscord
from tests.scheduler.fakes import DiscordWithHistory


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    """The fake with message history (for the crash look-up) and the Server Members Intent on in the portal."""
    server = DiscordWithHistory()
    server.application_flags = GATEWAY_GUILD_MEMBERS_LIMITED
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
        point_discord_at(None, None)


@pytest.fixture
async def paperboy(store: SqlStore, tmp_path: Path, fake: FakeDiscord) -> AsyncIterator[Paperboy]:
    """The core on both databases (the shared `store` fixture: SQLite and PostgreSQL)."""
    index = await open_index(tmp_path / "index")
    try:
        async with discord_core(fake, store, index) as app:
            yield app
    finally:
        await index.close()


async def test_a_person_in_one_server_never_sees_or_changes_what_they_have_in_another(
    fake: FakeDiscord, world: World, paperboy: Paperboy, start_bot: StartBot
) -> None:
    other_guild = fake.add_guild("Other Lab")
    other_channel = fake.add_channel(other_guild, "papers")
    await start_bot(paperboy)

    async def me_in_other(subcommand: str, **options: Any) -> dict[str, Any]:
        record = await fake.slash(other_guild, other_channel, f"me {subcommand}", user_id=PERSON, **options)
        return await fake.answered(record)

    await me(world, "subscribe", topic="matryoshka")
    await me_in_other("subscribe", topic="gaussian splatting")
    await paperboy.post_digest(person(world.guild))
    paper = next(m for m in fake.dms_of(PERSON) if MATRYOSHKA in m["embeds"][0].get("url", ""))
    await fake.answered(
        await fake.press_in_dm(
            int(paper["id"]), f"paperboy:upvote:{MATRYOSHKA}:g{world.guild}", user_id=PERSON
        )
    )

    theirs = await me_in_other("topics")
    description = theirs["embeds"][0]["description"]
    assert "gaussian splatting" in description and "matryoshka" not in description
    nothing = await me_in_other("votes")
    assert nothing["content"].startswith("You have not voted for a paper yet.")
    forgotten = await me_in_other("forget", confirm=True)
    assert "your 1 topic(s)" in forgotten["embeds"][0]["description"]

    # What the person has in the first server is untouched.
    assert [t.query for t in await paperboy.topics.of_channel(person(world.guild))] == ["matryoshka"]
    assert await paperboy.votes.count(MATRYOSHKA, Workspace("discord", str(world.guild))) == 1
    assert await paperboy.topics.of_channel(person(other_guild)) == []
    mine = await me(world, "votes")
    assert "Matryoshka Representation Learning" in mine["embeds"][0]["description"]


async def test_a_dm_digest_that_crashed_after_posting_is_adopted_not_sent_twice(
    world: World, bot: DiscordRunner, paperboy: Paperboy
) -> None:
    fake = world.fake
    assert isinstance(fake, DiscordWithHistory)
    await me(world, "subscribe", topic="matryoshka")
    ref = person(world.guild)
    plan = await paperboy.planner.plan(ref, TODAY)
    assert len(plan.papers) >= 2
    assert await paperboy.store.create_digest(plan) is not None
    now = datetime.now(UTC)
    lease = now + timedelta(seconds=0.3)
    rows = await paperboy.store.claim_deliveries("gone:1:x", now, lease, platforms=["discord"], limit=1)
    parent, first = rows[0], rows[1]
    # The parent and the first paper went out, then the worker vanished for longer than Discord keeps nonces.
    for delivery in (parent, first):
        await paperboy.store.begin_attempt(delivery.id, delivery.digest_id, "gone:1:x", lease)
    publisher = bot.client.publisher
    heading = await publisher.post_parent(plan, parent)
    await publisher.post_paper(plan, first, plan.papers[0], heading)
    fake.expire_nonces()

    policy = DeliveryPolicy(
        first_backoff=0.05,
        max_backoff=0.1,
        poll_seconds=0.2,
        paces={"discord": PlatformPace(channel_interval=0)},
    )
    survivor = DeliveryEngine(paperboy.store, policy=policy, worker_alive=lambda w: w != "gone:1:x")
    assert await survivor.run({"discord": publisher}, until_idle=True) == 1 + len(plan.papers)

    titles = [m["embeds"][0]["title"] for m in fake.dms_of(PERSON)]
    assert titles == [
        f"Your papers for Wednesday 25 November 2026: {len(plan.papers)} papers",
        *(f"{n}. {item.paper.title}" for n, item in enumerate(plan.papers, 1)),
    ]
    assert fake.history_reads >= 1


async def test_leaving_a_server_forgets_the_person_there_and_nowhere_else(
    fake: FakeDiscord,
    world: World,
    paperboy: Paperboy,
    start_bot: StartBot,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    other_guild = fake.add_guild("Other Lab")
    other_channel = fake.add_channel(other_guild, "papers")
    runner = await start_bot(paperboy)
    [identify] = fake.identifies
    assert identify["intents"] & GUILD_MEMBERS_INTENT
    assert runner.client.member_events
    await me(world, "subscribe", topic="matryoshka")
    await fake.answered(
        await fake.slash(
            other_guild, other_channel, "me subscribe", user_id=PERSON, topic="gaussian splatting"
        )
    )
    card = await fake.answered(await fake.slash(world.guild, world.channel, "paper", id=MATRYOSHKA))
    await fake.answered(
        await fake.press(world.guild, int(card["id"]), f"paperboy:upvote:{MATRYOSHKA}", user_id=PERSON)
    )
    forgotten = watch(monkeypatch, paperboy.store, "delete_person")

    assert await fake.remove_member(world.guild, PERSON)

    assert await forgotten.called() == [(person(world.guild),)]
    assert await paperboy.topics.of_channel(person(world.guild)) == []
    assert await paperboy.store.get_settings(person(world.guild)) is None
    assert await paperboy.votes.count(MATRYOSHKA, Workspace("discord", str(world.guild))) == 0
    assert [t.query for t in await paperboy.topics.of_channel(person(other_guild))] == ["gaussian splatting"]
