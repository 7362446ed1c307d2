"""The digest scheduler in `paperboy run`, and `paperboy digest --due` / `--status`.

A tick every minute (an APScheduler job) queues the digests that are due; the core's delivery engine (built
by the composition root, shared with `/papers digest`) posts them, sharing the work with every other replica
through the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from apscheduler.job import Job
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from adapters.app.compose import House, compose
from adapters.settings import Settings
from bot.core import Paperboy
from bot.services.delivery import DeliveryEngine
from bot.services.due_digests import ChannelStatus, DigestScheduler, TickReport, channel_statuses

log = logging.getLogger(__name__)

TICK_JOB_ID = "paperboy-digest-tick"
STOP_GRACE_SECONDS = 5.0


class DigestService:
    """The scheduler of one replica: a tick job that queues due digests, and the engine delivering them."""

    def __init__(
        self,
        paperboy: Paperboy,
        engine: DeliveryEngine,
        *,
        tick_seconds: float = 60.0,
        scheduler: AsyncIOScheduler | None = None,
    ) -> None:
        self.paperboy = paperboy
        self.engine = engine
        self.digests = DigestScheduler(paperboy.store, paperboy.planner, engine, paperboy.clock)
        self.tick_seconds = tick_seconds
        self._scheduler = scheduler
        self._job: Job | None = None
        self._runner: asyncio.Task[int] | None = None
        self._ticks: set[asyncio.Task[TickReport]] = set()

    async def start(self) -> None:
        """Start delivering, and tick now (catching up what came due while nothing ran) and every interval."""
        self._runner = asyncio.create_task(self.engine.run(self.paperboy.publishers), name="digest-delivery")
        if self._scheduler is not None:
            self._job = self._scheduler.add_job(
                self._scheduled_tick,
                trigger=IntervalTrigger(seconds=self.tick_seconds),
                id=TICK_JOB_ID,
                name="digest tick",
                next_run_time=datetime.now(UTC),
                coalesce=True,
                max_instances=1,
                misfire_grace_time=max(1, int(self.tick_seconds)),
                replace_existing=True,
            )

    async def tick(self) -> TickReport:
        """One look for due digests on the platforms this replica posts to."""
        return await self.digests.tick(set(self.paperboy.publishers))

    async def _scheduled_tick(self) -> None:
        if self.engine.stopping:
            return
        task = asyncio.ensure_future(self.tick())
        self._ticks.add(task)
        try:
            await task
        except asyncio.CancelledError:
            pass
        except Exception:
            log.exception("the digest tick failed; the next one tries again")
        finally:
            self._ticks.discard(task)

    async def stop(self, grace: float = STOP_GRACE_SECONDS) -> None:
        """Take no new work, let messages on their way finish (up to `grace` s), release every claim."""
        if self._job is not None and self._scheduler is not None:
            with contextlib.suppress(JobLookupError):
                self._scheduler.remove_job(TICK_JOB_ID)
            self._job = None
        for task in list(self._ticks):
            task.cancel()
        await self.engine.stop(grace)
        if self._runner is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._runner
            self._runner = None


async def start_digest_scheduler(house: House, scheduler: AsyncIOScheduler, web_app: Any) -> DigestService:
    """`paperboy run`'s digest scheduler (registered in adapters.app.runner.EXTRA_STARTERS)."""
    service = DigestService(
        house.core, house.engine, tick_seconds=house.delivery.tick_seconds, scheduler=scheduler
    )
    await service.start()
    return service


@dataclass(frozen=True, slots=True)
class DueReport:
    """What `paperboy digest --due` did."""

    tick: TickReport
    posted: int
    released: int
    failed: int = 0

    @property
    def ok(self) -> bool:
        """True when every due digest was planned and nothing was given up."""
        return not (self.tick.failed or self.failed)


async def run_due(settings: Settings) -> DueReport:
    """One tick and every delivery it (or an earlier, interrupted run) left, to the end; then return."""
    async with compose(settings, platforms=True, console=sys.stdout) as house:
        paperboy, engine = house.core, house.engine
        digests = DigestScheduler(paperboy.store, paperboy.planner, engine, paperboy.clock)
        ticked: list[TickReport] = []

        async def tick() -> None:
            ticked.append(await digests.tick(set(paperboy.publishers)))

        try:
            posted = await engine.run(paperboy.publishers, until_idle=True, producer=tick())
        finally:
            released = await engine.stop(grace=STOP_GRACE_SECONDS)
    return DueReport(ticked[0] if ticked else TickReport(), posted, released, engine.failed)


async def read_status(settings: Settings) -> list[ChannelStatus]:
    """Every scheduled channel's next run, today's digest and last delivery."""
    async with compose(settings) as house:
        return await channel_statuses(house.store, house.core.clock)


def format_due(report: DueReport) -> str:
    """`paperboy digest --due` in one line."""
    tick = report.tick
    text = (
        f"{tick.due} digest(s) due: {tick.created} queued, {tick.already} already there, "
        f"{tick.empty} with nothing new; {report.posted} message(s) posted."
    )
    if tick.recaps:
        text += f" {tick.recaps} weekly recap(s) queued."
    if tick.failed:
        text += f" {tick.failed} could not be planned (see the log)."
    if report.failed:
        text += f" {report.failed} digest(s) could not be delivered; `paperboy digest --status` says why."
    if report.released:
        text += f" {report.released} message(s) left for the next run."
    return text


def format_status(statuses: list[ChannelStatus]) -> str:
    """`paperboy digest --status`: one block per channel."""
    if not statuses:
        return "No channel has a digest schedule yet; run /papers subscribe or /papers schedule in one."
    lines: list[str] = []
    for status in statuses:
        s = status.settings
        days = "weekdays" if s.weekdays_only else "every day"
        lines.append(
            f"{status.channel}  {s.hour:02d}:{s.minute:02d} {s.timezone}, {days}, {s.digest_size} papers"
        )
        if s.paused:
            lines.append(f"  paused: {s.pause_reason or 'by request (/papers schedule off)'}")
        else:
            when = status.next_run.isoformat(timespec="minutes") if status.next_run else "none"
            lines.append(f"  next run: {when}")
        if status.today_counts:
            counts = ", ".join(f"{n} {state}" for state, n in sorted(status.today_counts.items()))
            lines.append(f"  today ({status.today.isoformat()}): {counts}")
        last = status.last_posted_at.isoformat(timespec="seconds") if status.last_posted_at else "never"
        lines.append(f"  last delivery: {last}")
    return "\n".join(lines)
