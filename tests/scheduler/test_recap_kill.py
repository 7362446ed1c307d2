"""Kill tests for weekly recaps: a real `paperboy digest --due` killed with SIGKILL at random moments while it
posts recaps, then run again; every channel ends with exactly one recap: one parent and one reply per paper,
all in the parent's thread, on Slack and on Discord (whose nonces are forgotten before each next run).

Recaps are digests of their own kind, so this is the daily kill test's harness (tests/scheduler/test_kill.py)
with channels whose recap is due now and whose daily digest has nothing to post: the workspace voted
yesterday for three papers featured long ago. As there, each round's run resumes what the previous round's
killed run left and is killed in turn, and a last run goes to the end. PAPERBOY_KILL_ROUNDS and
PAPERBOY_KILL_SEED work the same way.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from adapters.bench.slack_api import FakeMessage, RateLimitedSlack
from bot.domain import ChannelRef, ChannelSettings, Vote
from storage.sql import SqlStore, open_store
from storage.sql.tables import deliveries, digests
from tests.clock import FixedClock
from tests.scheduler.fakes import DiscordWithHistory, discord_audit
from tests.scheduler.test_kill import PAPERS, REPLAY, ROUNDS, SEED, KillRun, clean_environment
from tests.storage.factories import make_paper

# The three papers the workspace voted for, most votes first: each recap lists them in this order.
VOTED = ("2601.00003", "2601.00002", "2601.00001")
CHANNELS_PER_ROUND = 4


@dataclass
class RecapKillRun(KillRun):
    """The daily kill test's rounds, with channels whose weekly recap is due now."""

    async def add_channels(self, refs: list[ChannelRef]) -> None:
        """Channels whose recap is due now (today at 00:00 UTC); their daily digest finds nothing new."""
        for ref in refs:
            await self.store.save_settings(
                ChannelSettings(
                    ref,
                    hour=0,
                    minute=0,
                    timezone="UTC",
                    weekdays_only=False,
                    digest_size=PAPERS,
                    recap_day=self.today.weekday(),
                )
            )
        self.channels += refs

    async def all_posted(self) -> list[str]:
        """Channels whose one recap is not wholly recorded as posted."""
        statement = (
            select(digests.c.channel, deliveries.c.state, func.count())
            .join(deliveries, deliveries.c.digest_id == digests.c.id)
            .where(digests.c.kind == "recap")
            .group_by(digests.c.channel, deliveries.c.state)
        )
        async with self.store.engine.connect() as conn:
            rows = (await conn.execute(statement)).all()
        found: dict[str, Counter[str]] = {}
        for channel, state, count in rows:
            found.setdefault(channel, Counter())[state] += count
        return [
            f"{ref}: {dict(found.get(ref.channel, {}))}"
            for ref in self.channels
            if found.get(ref.channel) != Counter({"posted": PAPERS + 1})
        ]

    async def recap_count(self) -> int:
        """Recap digests in the store (one a channel, however many runs and kills)."""
        async with self.store.engine.connect() as conn:
            statement = select(func.count()).select_from(digests).where(digests.c.kind == "recap")
            return int((await conn.execute(statement)).scalar_one())


async def recap_kill_run(tmp_path: Path, platform: str, workspace: str, **env: str) -> RecapKillRun:
    """A store whose workspace voted yesterday for three papers featured long ago."""
    now = datetime.now(UTC)
    url = f"sqlite:///{tmp_path / 'recap-kill.db'}"
    store = await open_store(url)
    long_ago = now.date() - timedelta(days=60)
    await store.upsert_papers([make_paper(f"2601.0000{n}", featured_on=long_ago) for n in range(1, 5)])
    voter = SqlStore(store.engine, clock=FixedClock(now - timedelta(days=1)))
    for votes, arxiv_id in enumerate(reversed(VOTED), 1):
        for user in range(votes):
            await voter.cast_vote(Vote(platform, workspace, f"U{user}", arxiv_id))
    environment = clean_environment(
        DATABASE_URL=url, PAPERBOY_INDEX_DIR=str(tmp_path / "index"), PAPERBOY_LOG_LEVEL="WARNING", **env
    )
    return RecapKillRun(store, environment, tmp_path, now.date(), random.Random(SEED))


async def test_slack_recaps_survive_sigkill_at_random_moments(tmp_path: Path) -> None:
    run: RecapKillRun | None = None
    fake = RateLimitedSlack(channel_interval=0.0, rate=10_000, burst=10_000)
    await fake.start()
    try:
        run = await recap_kill_run(
            tmp_path,
            "slack",
            "T1",
            SLACK_BOT_TOKEN="xoxb-kill-test",
            SLACK_SIGNING_SECRET="kill-test-secret",
            SLACK_API_URL=fake.api_url,
            PAPERBOY_SLACK_POST_INTERVAL="0.05",
            PAPERBOY_SLACK_RATE="0",
        )
        killer = run

        def accepted(message: FakeMessage, total: int) -> None:
            killer.accepted()

        fake.on_accept = accepted
        for number in range(1, ROUNDS + 1):
            await run.add_channels(
                [ChannelRef("slack", "T1", f"R{number:02d}X{n}") for n in range(CHANNELS_PER_ROUND)]
            )
            await run.killed_run(number)
            # What is posted so far: one parent a channel, replies in its thread, nothing twice.
            audit = fake.audit()
            assert audit["problems"] == [], f"{REPLAY}: {audit['problems']}\n" + "\n".join(run.log)
        await run.run_to_end("last")
        audit = fake.audit({ref.channel: PAPERS for ref in run.channels})
        assert audit["problems"] == [], f"{REPLAY}: {audit['problems']}\n" + "\n".join(run.log)
        for ref in run.channels:
            replies = [m.arxiv_id for m in fake.in_channel(ref.channel) if m.thread_ts]
            assert replies == list(VOTED), f"{REPLAY}: {ref}: {replies}"
        assert await run.all_posted() == [], REPLAY
        assert await run.recap_count() == len(run.channels), REPLAY
        print("\n".join(run.log), f"\n{len(fake.messages)} messages, {fake.lookups} look-ups")
    finally:
        await fake.stop()
        if run is not None:
            await run.store.close()


async def test_discord_recaps_survive_sigkill_even_after_discord_forgot_the_nonces(tmp_path: Path) -> None:
    run: RecapKillRun | None = None
    fake = DiscordWithHistory()
    await fake.start()
    guild = fake.add_guild("Recap kill test")
    try:
        run = await recap_kill_run(
            tmp_path,
            "discord",
            str(guild),
            DISCORD_TOKEN="fake-token",
            DISCORD_API_URL=fake.api_url,
            DISCORD_GATEWAY_URL=fake.gateway_url,
            PAPERBOY_DISCORD_POST_INTERVAL="0.05",
            PAPERBOY_DISCORD_RATE="0",
        )
        killer = run
        fake.on_create = lambda message: killer.accepted()
        channel_ids: list[int] = []
        for number in range(1, ROUNDS + 1):
            new = [fake.add_channel(guild, f"recap{number}-{n}") for n in range(CHANNELS_PER_ROUND)]
            channel_ids += new
            await run.add_channels([ChannelRef("discord", str(guild), str(c)) for c in new])
            await run.killed_run(number, after_kill=fake.expire_nonces)
            problems = [p for c in channel_ids for p in discord_audit(fake, c, None)]
            assert problems == [], f"{REPLAY}: {problems}\n" + "\n".join(run.log)
        await run.run_to_end("last")
        problems = [p for c in channel_ids for p in discord_audit(fake, c, PAPERS)]
        assert problems == [], f"{REPLAY}: {problems}\n" + "\n".join(run.log)
        assert await run.all_posted() == [], REPLAY
        assert await run.recap_count() == len(run.channels), REPLAY
        print("\n".join(run.log), f"\n{fake.history_reads} history reads")
    finally:
        await fake.stop()
        if run is not None:
            await run.store.close()
