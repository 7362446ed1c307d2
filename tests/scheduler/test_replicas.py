"""Three real `paperboy run` processes on one PostgreSQL share 300 due digests: each message is posted once.

Each replica ticks every second and may hold 100 digests at a time, each posted at most a message every
0.2 s per channel, so no replica can take everything before the others are up. The channels become due
only once all three answer /readyz, so their ticks race for the same digests.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from adapters.bench.slack_api import RateLimitedSlack
from bot.domain import ChannelRef, ChannelSettings
from storage.sql import SqlStore, open_store
from storage.sql.tables import deliveries
from tests.processes import Running, free_port, start_paperboy
from tests.scheduler.conftest import synthetic_papers
from tests.scheduler.fakes import DiscordWithHistory, discord_audit
from tests.scheduler.test_kill import clean_environment

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

REPLICAS = 3
CHANNELS = 300
PAPERS = 3
MESSAGES = CHANNELS * (PAPERS + 1)


async def start_replicas(cwd: Path, env: dict[str, str]) -> list[Running]:
    replicas = []
    for number in range(REPLICAS):
        own = {**env, "PAPERBOY_PORT": str(free_port()), "PAPERBOY_INDEX_DIR": str(cwd / f"index-{number}")}
        replicas.append(await start_paperboy(cwd, own))
    return replicas


def replica_environment(database_url: str, **platform: str) -> dict[str, str]:
    return clean_environment(
        DATABASE_URL=database_url,
        PAPERBOY_REFRESH_MINUTES="0",
        PAPERBOY_DIGEST_TICK_SECONDS="1",
        PAPERBOY_DELIVERY_LEASE_SECONDS="15",
        PAPERBOY_DELIVERY_CONCURRENCY="100",
        PAPERBOY_LOG_LEVEL="WARNING",
        PAPERBOY_LOG_FORMAT="text",
        **platform,
    )


async def run_replicas(
    tmp_path: Path, database_url: str, env: dict[str, str], refs: list[ChannelRef], all_posted: asyncio.Event
) -> tuple[SqlStore, dict[str, int]]:
    """Start the replicas, make the channels due, wait for every message, stop them; return each one's share."""
    store = await open_store(database_url)
    today = datetime.now(UTC).date()
    await store.upsert_papers(synthetic_papers(today, 12))
    replicas = await start_replicas(tmp_path, env)
    try:
        async with httpx.AsyncClient(timeout=5) as http:
            await asyncio.gather(*(r.wait_ready(http, within=90.0) for r in replicas))
        for ref in refs:
            await store.save_settings(
                ChannelSettings(
                    ref, hour=0, minute=0, timezone="UTC", weekdays_only=False, digest_size=PAPERS
                )
            )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(all_posted.wait(), timeout=120)
        # No pause for stragglers: a replica finishes (and records) every message already on its way before it
        # exits on SIGTERM, and a delivery that is posted cannot be claimed again, so once they have exited,
        # whatever any replica would post twice is posted, and the audit below sees it.
        codes = [(await r.terminate(limit=15))[0] for r in replicas]
        assert codes == [0] * REPLICAS, "".join(line for r in replicas for line in r.stderr)[-3000:]
    finally:
        for replica in replicas:
            if replica.process.returncode is None:
                replica.process.kill()
                await replica.process.wait()
    async with store.engine.connect() as conn:
        by_worker = select(deliveries.c.claimed_by, func.count()).where(deliveries.c.state == "posted")
        shares = {str(w): int(n) for w, n in await conn.execute(by_worker.group_by(deliveries.c.claimed_by))}
        by_state = select(deliveries.c.state, func.count()).group_by(deliveries.c.state)
        counts = {str(state): int(n) for state, n in await conn.execute(by_state)}
    assert counts == {"posted": MESSAGES}
    print(f"messages posted per replica: {sorted(shares.values())}")
    return store, shares


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_three_slack_replicas_post_each_of_300_digests_once(tmp_path: Path, database_url: str) -> None:
    all_posted = asyncio.Event()
    fake = RateLimitedSlack(channel_interval=0.2, rate=2000, burst=200)
    fake.on_accept = lambda message, total: all_posted.set() if total >= MESSAGES else None
    await fake.start()
    store: SqlStore | None = None
    try:
        env = replica_environment(
            database_url,
            SLACK_BOT_TOKEN="xoxb-replicas",
            SLACK_SIGNING_SECRET="replica-secret",
            SLACK_API_URL=fake.api_url,
            PAPERBOY_SLACK_POST_INTERVAL="0.2",
            PAPERBOY_SLACK_RATE="1000",
        )
        refs = [ChannelRef("slack", "T1", f"C{n:04d}") for n in range(CHANNELS)]
        store, shares = await run_replicas(tmp_path, database_url, env, refs, all_posted)
        audit = fake.audit({ref.channel: PAPERS for ref in refs})
        assert audit["problems"] == []
        assert audit["messages"] == MESSAGES
        assert len(shares) >= 2, f"the work was not shared: {shares}"
    finally:
        await fake.stop()
        if store is not None:
            await store.close()


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_three_discord_replicas_post_each_of_300_digests_once(
    tmp_path: Path, database_url: str
) -> None:
    fake = DiscordWithHistory()
    await fake.start()
    guild = fake.add_guild("Replicas")
    channel_ids = [fake.add_channel(guild, f"papers-{n}") for n in range(CHANNELS)]
    store: SqlStore | None = None
    created: list[int] = []
    all_posted = asyncio.Event()

    def count(message: object) -> None:
        created.append(1)
        if len(created) >= MESSAGES:
            all_posted.set()

    fake.on_create = count
    try:
        env = replica_environment(
            database_url,
            DISCORD_TOKEN="fake-token",
            DISCORD_API_URL=fake.api_url,
            DISCORD_GATEWAY_URL=fake.gateway_url,
            PAPERBOY_DISCORD_POST_INTERVAL="0.2",
            PAPERBOY_DISCORD_RATE="1000",
        )
        refs = [ChannelRef("discord", str(guild), str(c)) for c in channel_ids]
        store, shares = await run_replicas(tmp_path, database_url, env, refs, all_posted)
        problems = [p for c in channel_ids for p in discord_audit(fake, c, PAPERS)]
        assert problems == []
        assert len(created) == MESSAGES
        assert len(shares) >= 2, f"the work was not shared: {shares}"
    finally:
        await fake.stop()
        if store is not None:
            await store.close()
