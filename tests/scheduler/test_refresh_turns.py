"""Replicas take turns at the Daily Papers refresh: one polls the sources each period, and when it dies another
takes over within a period (the lease in the database, on the test's clock)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast

import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from adapters.settings import Settings
from adapters.sources.hf import FetchResult, HuggingFaceClient
from adapters.sources.refresh import RefreshTurn, refresh_job, schedule_refresh
from bot.domain import Paper, UpsertCounts
from storage.sql import SqlStore, open_store
from tests.clock import FixedClock

PERIOD = timedelta(minutes=30)


@dataclass
class CountingHuggingFace:
    """Hugging Face with nothing new, counting the days each replica asked for."""

    asked: list[date] = field(default_factory=list)

    async def fetch(self, *, date: date) -> FetchResult:
        self.asked.append(date)
        return FetchResult()


@dataclass
class Replica:
    """One replica's refresh job: its own store (connection pool) on the shared database, its own source."""

    store: SqlStore
    turn: RefreshTurn
    hf: CountingHuggingFace = field(default_factory=CountingHuggingFace)
    job: Any = None

    async def ingest(self, papers: Sequence[Paper], *, source: str = "other") -> UpsertCounts:
        return UpsertCounts()

    async def run(self) -> None:
        """One run of the job, as APScheduler starts it at this replica's next interval."""
        await self.job.func()

    @property
    def refreshes(self) -> int:
        return len(self.hf.asked) // 2  # today and yesterday


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 11, 26, 9, 0, tzinfo=UTC))


@pytest.fixture
async def replicas(store: SqlStore, database_url: str, clock: FixedClock) -> AsyncIterator[list[Replica]]:
    others = [await open_store(database_url) for _ in range(2)]
    try:
        made = []
        for replica_store in (store, *others):
            replica = Replica(replica_store, RefreshTurn(replica_store, clock, PERIOD))
            replica.job = schedule_refresh(
                AsyncIOScheduler(),
                replica,
                cast(HuggingFaceClient, replica.hf),
                None,
                clock,
                minutes=30,
                run_now=False,
                turn=replica.turn,
            )
            made.append(replica)
        yield made
    finally:
        for other in others:
            await other.close()


async def test_one_replica_refreshes_each_period_and_another_takes_over_when_it_dies(
    replicas: list[Replica], clock: FixedClock
) -> None:
    a, b, c = replicas
    # Three timers, ten minutes apart: a at :00 and :30, b at :10 and :40, c at :20 and :50.
    for _period in range(3):
        for replica in (a, b, c):
            await replica.run()
            clock.advance(minutes=10)
    assert (a.refreshes, b.refreshes, c.refreshes) == (3, 0, 0)

    # a's last run, at 10:30; then it dies (no more runs, nothing given up). Its lease runs out at 11:00.
    assert clock.now() == datetime(2026, 11, 26, 10, 30, tzinfo=UTC)
    await a.run()
    clock.advance(minutes=10)
    await b.run()  # 10:40: still a's
    clock.advance(minutes=10)
    await c.run()  # 10:50: still a's
    clock.advance(minutes=20)
    await b.run()  # 11:10: a's lease ran out at 11:00, when a would have refreshed next
    clock.advance(minutes=10)
    await c.run()  # 11:20: b's now
    assert (a.refreshes, b.refreshes, c.refreshes) == (4, 1, 0)

    # From then on b refreshes each period, and c never.
    for _period in range(2):
        clock.advance(minutes=20)
        await b.run()
        clock.advance(minutes=10)
        await c.run()
    assert (a.refreshes, b.refreshes, c.refreshes) == (4, 3, 0)


async def test_a_replica_that_stops_hands_the_refresh_over_at_the_next_run(
    replicas: list[Replica], clock: FixedClock
) -> None:
    a, b, _ = replicas
    await a.run()
    await a.turn.give_up()  # `paperboy run` stopping
    clock.advance(minutes=10)
    await b.run()
    assert (a.refreshes, b.refreshes) == (1, 1)


async def test_paperboy_run_s_refresh_job_takes_turns_and_hands_its_turn_over_when_it_stops(
    store: SqlStore, clock: FixedClock, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(
        PAPERBOY_REFRESH_MINUTES=30, HF_API_URL="http://127.0.0.1:9", PAPERBOY_SOURCE_DEADLINE=0.3
    )
    other = RefreshTurn(store, clock, PERIOD)  # another replica
    assert await other.take()
    app = Replica(store, other)  # an app whose store is the shared SQL store, as the core's is

    async with refresh_job(AsyncIOScheduler(), app, settings, clock) as job:
        assert job is not None
        with caplog.at_level(logging.INFO, logger="adapters.sources.refresh"):
            await job.func()  # the other replica's turn: nothing is read
            assert "not refreshed" not in caplog.text
            await other.give_up()
            await job.func()  # this replica's turn now: it reads (and finds nobody at that address)
            assert "Daily Papers not refreshed" in caplog.text
        assert not await other.take()
    assert await other.take()  # handed over as the job stopped
