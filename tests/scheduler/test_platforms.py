"""The engine through the real Slack and Discord adapters: rate limits waited out, earlier posts adopted."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import discord
import pytest

from adapters.bench.slack_api import RateLimitedSlack
from adapters.discord.client import login_discord, serve_discord
from adapters.discord.config import point_discord_at
from adapters.discord.publisher import delivery_nonce
from adapters.discord.render import digest_parent_embed
from adapters.slack.config import SlackConfig
from adapters.slack.connection import SlackConnection, connect_slack
from bot.core import Paperboy
from bot.domain import ChannelRef, ChannelSettings
from bot.ports import NullTelemetry, Store
from bot.services.delivery import DeliveryEngine
from bot.services.digests import DigestPublisher
from bot.services.due_digests import DigestScheduler
from bot.services.pacing import DeliveryPolicy, PlatformPace
from storage.search.index import open_index
from storage.sql import SqlStore, open_store
from tests.discord.conftest import discord_settings
from tests.scheduler.conftest import synthetic_papers
from tests.scheduler.fakes import DiscordWithHistory, discord_audit

PAPERS = 3


@pytest.fixture
async def paperboy(tmp_path: Path) -> AsyncIterator[Paperboy]:
    """The core on SQLite with papers featured today (the real clock: leases and the schedule agree)."""
    store = await open_store(f"sqlite:///{tmp_path / 'paperboy.db'}")
    index = await open_index(tmp_path / "index")
    from adapters.app.compose import SystemClock

    app = Paperboy(store=store, index=index, clock=SystemClock())
    await app.ingest(synthetic_papers(datetime.now(UTC).date(), 12))
    try:
        yield app
    finally:
        await index.close()
        await store.close()


async def due(store: Store, refs: list[ChannelRef]) -> None:
    assert isinstance(store, SqlStore)  # the fixture's store, which can save a channel's whole settings
    for ref in refs:
        await store.save_settings(
            ChannelSettings(ref, hour=0, minute=0, timezone="UTC", weekdays_only=False, digest_size=PAPERS)
        )


def engine_for(paperboy: Paperboy, platform: str, pace: PlatformPace) -> DeliveryEngine:
    policy = DeliveryPolicy(first_backoff=0.05, max_backoff=0.1, poll_seconds=0.2, paces={platform: pace})
    return DeliveryEngine(paperboy.store, policy=policy)


def posting_to(paperboy: Paperboy, **publishers: DigestPublisher) -> Paperboy:
    """A core on the same store and index that posts through these publishers (as the composition root builds)."""
    return Paperboy(paperboy.store, paperboy.index, paperboy.clock, publishers=publishers)


async def tick_and_deliver(paperboy: Paperboy, engine: DeliveryEngine, platform: str) -> int:
    scheduler = DigestScheduler(paperboy.store, paperboy.planner, engine, paperboy.clock)
    return await engine.run(paperboy.publishers, until_idle=True, producer=scheduler.tick({platform}))


@pytest.fixture
async def slack_fake() -> AsyncIterator[RateLimitedSlack]:
    fake = RateLimitedSlack(channel_interval=0.2, rate=20, burst=2)
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()


@pytest.fixture
async def slack(slack_fake: RateLimitedSlack) -> AsyncIterator[SlackConnection]:
    config = SlackConfig(
        signing_secret="secret", bot_token="xoxb-test", api_url=slack_fake.api_url, post_interval=0.2
    )
    connection = await connect_slack(config, NullTelemetry())
    try:
        yield connection
    finally:
        await connection.close()


async def test_slack_digests_beyond_the_rate_limit_are_waited_out_and_posted_once(
    paperboy: Paperboy, slack_fake: RateLimitedSlack, slack: SlackConnection
) -> None:
    paperboy = posting_to(paperboy, slack=slack.publisher)
    refs = [ChannelRef("slack", "T1", f"C{n}") for n in range(8)]
    await due(paperboy.store, refs)
    # Our gate lets 40 a second through; the fake takes 20: the rest is answered 429 and waited out.
    engine = engine_for(paperboy, "slack", PlatformPace(channel_interval=0.0, rate=40.0, burst=10))
    assert await tick_and_deliver(paperboy, engine, "slack") == 8 * (PAPERS + 1)
    audit = slack_fake.audit({ref.channel: PAPERS for ref in refs})
    assert audit["problems"] == []
    assert audit["rate_limited"] > 0
    assert audit["messages"] == 8 * (PAPERS + 1)


async def test_a_slack_post_whose_answer_was_lost_is_found_by_its_metadata_and_adopted(
    paperboy: Paperboy, slack_fake: RateLimitedSlack, slack: SlackConnection
) -> None:
    paperboy = posting_to(paperboy, slack=slack.publisher)
    [ref] = refs = [ChannelRef("slack", "T1", "CLOST")]
    await due(paperboy.store, refs)
    engine = engine_for(paperboy, "slack", PlatformPace(channel_interval=0.0))
    scheduler = DigestScheduler(paperboy.store, paperboy.planner, engine, paperboy.clock)
    await scheduler.tick({"slack"})
    # A worker posts the parent and the first paper, then dies before recording the paper.
    now = datetime.now(UTC)
    lease = now + timedelta(seconds=0.3)
    parent, first, *_ = await paperboy.store.claim_deliveries(
        "gone:1:x", now, lease, platforms=["slack"], limit=1
    )
    plan = await engine._rebuild_plan([parent, first, *_])
    publisher = paperboy.publishers["slack"]
    for delivery in (parent, first):
        await paperboy.store.begin_attempt(delivery.id, delivery.digest_id, "gone:1:x", lease)
    thread = await publisher.post_parent(plan, parent)
    await paperboy.store.mark_posted(parent.id, thread)
    await publisher.post_paper(plan, first, plan.papers[0], thread)

    survivor = DeliveryEngine(paperboy.store, policy=engine.policy, worker_alive=lambda w: w != "gone:1:x")
    assert await survivor.run(paperboy.publishers, until_idle=True) == PAPERS
    assert slack_fake.audit({ref.channel: PAPERS})["problems"] == []
    assert slack_fake.lookups == 1  # only the paper that may have been posted was looked for
    [recorded] = [d for d in await paperboy.store.deliveries_of(first.digest_id) if d.id == first.id]
    assert recorded.message_id == slack_fake.in_channel("CLOST")[1].ts


@pytest.fixture
async def discord_fake() -> AsyncIterator[DiscordWithHistory]:
    fake = DiscordWithHistory()
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()
        point_discord_at(None, None)


async def test_discord_digests_go_out_paced_and_once_through_the_adapter(
    paperboy: Paperboy, discord_fake: DiscordWithHistory
) -> None:
    guild = discord_fake.add_guild("Pace")
    channels = [discord_fake.add_channel(guild, f"papers-{n}") for n in range(4)]
    client = await login_discord(discord_settings(discord_fake), paperboy.store, guild_ready_timeout=0.05)
    paperboy = posting_to(paperboy, discord=client.publisher)
    runner = serve_discord(client, paperboy)
    await runner.wait_until_ready(10)
    try:
        await due(paperboy.store, [ChannelRef("discord", str(guild), str(c)) for c in channels])
        engine = engine_for(paperboy, "discord", PlatformPace(channel_interval=0.1, rate=50.0))
        assert await tick_and_deliver(paperboy, engine, "discord") == 4 * (PAPERS + 1)
    finally:
        await runner.stop()
    assert [p for c in channels for p in discord_audit(discord_fake, c, PAPERS)] == []
    for channel in channels:
        [thread] = discord_fake.threads_of(channel)
        times = sorted(
            call.at
            for call in discord_fake.calls_to("POST", rf"/channels/({channel}|{thread['id']})/messages")
        )
        # Spaced when they leave the bot; the loopback adds a few milliseconds of jitter on arrival.
        assert all(b - a >= 0.1 - 0.03 for a, b in itertools.pairwise(times))


async def test_a_discord_post_made_before_a_long_outage_is_adopted_once_the_nonce_is_forgotten(
    paperboy: Paperboy, discord_fake: DiscordWithHistory
) -> None:
    guild = discord_fake.add_guild("Outage")
    channel = discord_fake.add_channel(guild, "papers")
    ref = ChannelRef("discord", str(guild), str(channel))
    client = await login_discord(discord_settings(discord_fake), paperboy.store, guild_ready_timeout=0.05)
    paperboy = posting_to(paperboy, discord=client.publisher)
    runner = serve_discord(client, paperboy)
    await runner.wait_until_ready(10)
    try:
        await due(paperboy.store, [ref])
        engine = engine_for(paperboy, "discord", PlatformPace(channel_interval=0.0))
        scheduler = DigestScheduler(paperboy.store, paperboy.planner, engine, paperboy.clock)
        await scheduler.tick({"discord"})
        now = datetime.now(UTC)
        lease = now + timedelta(seconds=0.3)
        rows = await paperboy.store.claim_deliveries("gone:1:x", now, lease, platforms=["discord"], limit=1)
        parent, first = rows[0], rows[1]
        plan = await engine._rebuild_plan(rows)
        # The parent went out (its thread not made yet), then the worker vanished for longer than Discord
        # remembers nonces.
        for delivery in (parent, first):
            await paperboy.store.begin_attempt(delivery.id, delivery.digest_id, "gone:1:x", lease)
        sent = runner.client.get_channel(channel)
        assert isinstance(sent, discord.TextChannel)
        await sent.send(embed=digest_parent_embed(plan), nonce=delivery_nonce(parent))
        discord_fake.expire_nonces()

        survivor = DeliveryEngine(
            paperboy.store, policy=engine.policy, worker_alive=lambda w: w != "gone:1:x"
        )
        assert await survivor.run(paperboy.publishers, until_idle=True) == PAPERS + 1
    finally:
        await runner.stop()
    assert discord_audit(discord_fake, channel, PAPERS) == []
    assert discord_fake.history_reads >= 1
