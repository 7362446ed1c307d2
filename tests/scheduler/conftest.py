"""Fixtures for the scheduler and delivery tests: a clock the test moves, papers, and a loopback platform."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Callable, Generator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.core import Paperboy
from bot.domain import ChannelRef, ChannelSettings, Delivery, DigestPlan, Paper, ScoredPaper
from bot.services.delivery import DeliveryEngine
from bot.services.due_digests import DigestScheduler
from bot.services.pacing import DeliveryPolicy, PlatformPace
from storage.search.index import open_index
from storage.sql import SqlStore
from tests.clock import FixedClock


def synthetic_papers(day: date, count: int = 30, *, prefix: str = "2611") -> list[Paper]:
    """`count` papers featured on `day` and the day before, with distinct upvotes (a stable ranking)."""
    return [
        Paper(
            arxiv_id=f"{prefix}.{n:05d}",
            title=f"Paper number {n} on delivery",
            authors=[f"Author {n}"],
            abstract=f"Abstract of paper {n}.",
            published=day - timedelta(days=2),
            featured_on=day - timedelta(days=n % 2),
            hf_upvotes=1000 - n,
        )
        for n in range(1, count + 1)
    ]


@dataclass
class Posted:
    """One message the loopback platform accepted."""

    channel: ChannelRef
    message_id: str
    delivery_id: int
    thread_id: str | None
    arxiv_id: str | None
    at: float


@dataclass
class LoopbackPlatform:
    """An in-process platform: posts succeed, fail, or 'lose their answer' as the test says.

    It implements `find_posted` like the real publishers (by the delivery the message was posted for), so a
    retried delivery whose first answer was lost is adopted rather than posted again.
    """

    platform: str = "console"
    checks: bool = True
    posted: list[Posted] = field(default_factory=list)
    # channel -> how many of the next posts there fail before they reach the platform
    failures: dict[str, int] = field(default_factory=dict)
    # channel -> how many of the next posts there are accepted but answered with an error (a lost answer)
    lost_answers: dict[str, int] = field(default_factory=dict)
    events: list[str] = field(default_factory=list)
    on_post: Callable[[Posted], None] | None = None
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    async def post_parent(self, plan: DigestPlan, delivery: Delivery) -> str:
        """Post a digest's parent."""
        return self._post(delivery, None)

    async def post_paper(
        self, plan: DigestPlan, delivery: Delivery, item: ScoredPaper, thread_id: str
    ) -> str:
        """Post one paper in the digest's thread."""
        assert item.paper.arxiv_id == delivery.arxiv_id
        return self._post(delivery, thread_id)

    def _post(self, delivery: Delivery, thread_id: str | None) -> str:
        key = str(delivery.channel)
        await_failure = self.failures.get(key, 0)
        if await_failure:
            self.failures[key] = await_failure - 1
            self.events.append(f"fail {key}")
            raise ConnectionError(f"the platform is down for {key}")
        message = Posted(
            delivery.channel,
            f"m{next(self._ids)}",
            delivery.id,
            thread_id,
            delivery.arxiv_id,
            asyncio.get_running_loop().time(),
        )
        self.posted.append(message)
        self.events.append(f"post {key}")
        if self.on_post is not None:
            self.on_post(message)
        lost = self.lost_answers.get(key, 0)
        if lost:
            self.lost_answers[key] = lost - 1
            raise TimeoutError("the answer never came back")
        return message.message_id

    async def find_posted(
        self,
        plan: DigestPlan,
        delivery: Delivery,
        thread_id: str | None,
        *,
        after: str | None = None,
        since: datetime | None = None,
    ) -> str | None:
        """The message an earlier attempt posted for this delivery, if any."""
        self.events.append(f"look {delivery.channel}")
        for message in self.posted:
            if message.delivery_id == delivery.id:
                return message.message_id
        return None

    def in_channel(self, channel: ChannelRef) -> list[Posted]:
        """Messages accepted in one channel, in order."""
        return [m for m in self.posted if m.channel == channel]


def policy(**changes: Any) -> DeliveryPolicy:
    """The unpaced test policy with some fields changed."""
    values: dict[str, Any] = {
        "lease_seconds": 30.0,
        "first_backoff": 0.01,
        "max_backoff": 0.05,
        "poll_seconds": 0.2,
        "paces": {},
        **changes,
    }
    return DeliveryPolicy(**values)


def paced(channel_interval: float, rate: float | None = None) -> DeliveryPolicy:
    """A test policy pacing the console platform."""
    return policy(paces={"console": PlatformPace(channel_interval=channel_interval, rate=rate)})


@dataclass
class World:
    """The core on a store with papers, a loopback platform, a clock the test moves, and a scheduler."""

    paperboy: Paperboy
    clock: FixedClock
    platform: LoopbackPlatform
    store: SqlStore
    engine: DeliveryEngine
    scheduler: DigestScheduler

    def new_engine(self, **changes: Any) -> DeliveryEngine:
        """Another worker on the same store (a replica, or this process after a restart)."""
        return DeliveryEngine(self.store, policy=policy(**changes), clock=self.clock)

    def restart(self, **changes: Any) -> None:
        """Forget everything in memory, as a process restart does."""
        self.engine = self.new_engine(**changes)
        self.paperboy.delivery.engine = self.engine
        self.scheduler = DigestScheduler(self.store, self.paperboy.planner, self.engine, self.clock)

    async def channel(self, name: str, **settings: Any) -> ChannelRef:
        """A console channel with a digest schedule (daily 09:00 UTC, 3 papers, unless told otherwise)."""
        ref = ChannelRef("console", "local", name)
        values: dict[str, Any] = {"hour": 9, "timezone": "UTC", "weekdays_only": False, "digest_size": 3}
        values.update(settings)
        await self.store.save_settings(ChannelSettings(ref, **values))
        return ref

    async def tick(self) -> int:
        """One scheduler tick and every delivery it queued; return the messages posted."""
        report_holder: list[object] = []

        async def produce() -> None:
            report_holder.append(await self.scheduler.tick({"console"}))

        return await self.engine.run({"console": self.platform}, until_idle=True, producer=produce())


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    """A failed test of a module that draws at random (its REPLAY says how) shows how to replay it, whatever
    failed: an assertion, a timeout or a fixture."""
    outcome = yield
    report = outcome.get_result()
    replay = getattr(getattr(item, "module", None), "REPLAY", None)
    if report.failed and replay:
        report.sections.append(("replay", replay))


TODAY = date(2026, 3, 27)  # a Friday, two days before Europe's clocks go forward


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 3, 27, 12, 0, tzinfo=UTC))


@pytest.fixture
async def world(store: SqlStore, tmp_path: Path, clock: FixedClock) -> AsyncIterator[World]:
    index = await open_index(tmp_path / "index")
    platform = LoopbackPlatform()
    # The engine's leases run on the test's clock: a lease runs out when the test moves the clock past it.
    engine = DeliveryEngine(store, policy=policy(), clock=clock)
    paperboy = Paperboy(
        store=store, index=index, clock=clock, publishers={"console": platform}, engine=engine
    )
    papers: list[Paper] = []
    for offset in range(0, 12, 2):
        papers += synthetic_papers(TODAY + timedelta(days=offset), 12, prefix=f"26{offset:02d}")
    await paperboy.ingest(papers)
    scheduler = DigestScheduler(store, paperboy.planner, engine, clock)
    try:
        yield World(paperboy, clock, platform, store, engine, scheduler)
    finally:
        await index.close()
