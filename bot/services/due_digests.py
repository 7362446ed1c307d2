"""The schedule: which channels' daily digests and weekly recaps are due now, planning and queueing them,
and their status."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.domain import ChannelRef, ChannelSettings
from bot.ports import Clock, Store
from bot.schedule import ZoneUnavailable, channel_zone, due_local_date, next_run
from bot.services.channels import ChannelSchedules
from bot.services.delivery import DeliveryEngine
from bot.services.digests import DigestPlanner
from bot.services.recaps import RecapPlanner, recap_due_date

log = logging.getLogger(__name__)

# Papers reach Hugging Face through the day: a channel with nothing new at its hour is looked at again later
# that day (and posted then, once), but not every minute.
EMPTY_RETRY = timedelta(minutes=30)


@dataclass(frozen=True, slots=True)
class TickReport:
    """What one scheduler tick did."""

    due: int = 0
    created: int = 0
    already: int = 0
    empty: int = 0
    failed: int = 0
    # Channels paused by this tick because their stored time zone cannot be loaded here.
    paused: int = 0
    # Weekly recaps queued by this tick (one a channel a week; none where the workspace cast no vote).
    recaps: int = 0


@dataclass(frozen=True, slots=True)
class ChannelStatus:
    """One channel's schedule as `paperboy digest --status` shows it."""

    settings: ChannelSettings
    next_run: datetime | None
    today: date
    today_counts: dict[str, int]
    last_posted_at: datetime | None

    @property
    def channel(self) -> ChannelRef:
        """The channel."""
        return self.settings.channel


class DigestScheduler:
    """Finds the channels whose local hour has come today without a digest, plans each one and queues it.

    A tick is safe on every replica at once: the store keeps one digest per (channel, kind, local date), so a
    digest another replica created first is simply skipped. A channel whose hour passed while nothing ran is
    caught up at the next tick on the same local day; a day that has ended is never posted. The weekly recap
    comes the same way on its day, at the digest's hour.
    """

    def __init__(
        self,
        store: Store,
        planner: DigestPlanner,
        engine: DeliveryEngine,
        clock: Clock,
        *,
        batch: int = 200,
        empty_retry: timedelta = EMPTY_RETRY,
    ) -> None:
        self._store = store
        self._planner = planner
        self._engine = engine
        self._clock = clock
        self._batch = max(1, batch)
        self._empty_retry = empty_retry
        # (channel, local date) pairs known to have a digest, and channels with nothing new until when.
        self._done: set[tuple[ChannelRef, date]] = set()
        self._empty_until: dict[tuple[ChannelRef, date], datetime] = {}
        # (channel, recap date) pairs done: queued, found in the store, or with no vote to sum up (a recap's
        # week ends at its moment, so a later look would find the same).
        self._recaps_done: set[tuple[ChannelRef, date]] = set()
        self._recaps = RecapPlanner(store)
        self._lock = asyncio.Lock()

    async def tick(self, platforms: Collection[str]) -> TickReport:
        """Plan and queue every due digest of channels on `platforms`; one tick at a time per scheduler."""
        async with self._lock:
            return await self._tick(set(platforms))

    async def _tick(self, platforms: set[str]) -> TickReport:
        now = self._clock.now()
        self._forget_before(now.date() - timedelta(days=2))
        due: list[tuple[ChannelSettings, date]] = []
        recaps_due: list[tuple[ChannelSettings, date]] = []
        paused = 0
        for settings in await self._store.list_channels():
            if settings.channel.platform not in platforms:
                continue
            try:
                day = due_local_date(settings, now)
                recap_day = recap_due_date(settings, now)
            except ZoneUnavailable as error:
                # One channel's bad zone must not stop every other channel's digest: it is paused with the
                # reason (shown by /papers schedule and digest --status) until someone sets a zone again.
                log.warning("pausing %s: %s", settings.channel, error)
                await ChannelSchedules(self._store).pause(settings.channel, str(error))
                paused += 1
                continue
            if recap_day is not None and (settings.channel, recap_day) not in self._recaps_done:
                recaps_due.append((settings, recap_day))
            if day is None or (settings.channel, day) in self._done:
                continue
            retry_at = self._empty_until.get((settings.channel, day))
            if retry_at is not None and now < retry_at:
                continue
            due.append((settings, day))
        if not due:
            return TickReport(paused=paused, recaps=await self._queue_recaps(recaps_due))
        existing = await self._store.digest_keys({day for _, day in due})
        self._done.update(key for key in existing)
        wanted = [(settings, day) for settings, day in due if (settings.channel, day) not in existing]
        counts = {"created": 0, "already": len(due) - len(wanted), "empty": 0, "failed": 0}
        # In batches, so that the first digests are on their way while the later ones are planned.
        for start in range(0, len(wanted), self._batch):
            batch = wanted[start : start + self._batch]
            try:
                await self._queue(batch, now, counts)
            except Exception:
                counts["failed"] += len(batch)
                log.exception("could not plan %d digests; the next tick tries again", len(batch))
        # After the daily digests, so that a channel gets its day's papers before the week's recap.
        recaps = await self._queue_recaps(recaps_due)
        report = TickReport(due=len(due), paused=paused, recaps=recaps, **counts)
        log.info(
            "digest tick: %d due, %d queued, %d already there, %d with nothing new, %d failed, "
            "%d paused for a time zone that cannot be loaded; %d weekly recap(s) queued",
            report.due,
            report.created,
            report.already,
            report.empty,
            report.failed,
            report.paused,
            report.recaps,
        )
        return report

    async def _queue_recaps(self, wanted: list[tuple[ChannelSettings, date]]) -> int:
        """Plan and record the due weekly recaps, hand each new one to the engine; return how many.

        One recap a channel a week: a channel that had one in the six days before (its day was changed)
        waits for the next week. A failure is logged; the next tick tries again.
        """
        if not wanted:
            return 0
        try:
            days = [day for _, day in wanted]
            existing = await self._store.recap_keys(min(days) - timedelta(days=6), max(days))
            fresh = []
            for settings, day in wanted:
                if any((settings.channel, day - timedelta(days=back)) in existing for back in range(7)):
                    self._recaps_done.add((settings.channel, day))
                else:
                    fresh.append((settings, day))
            queued = 0
            for start in range(0, len(fresh), self._batch):
                batch = fresh[start : start + self._batch]
                plans = await self._recaps.plan_many(batch)
                for (settings, day), plan in zip(batch, plans, strict=True):
                    if plan is None:
                        self._recaps_done.add((settings.channel, day))
                full = [plan for plan in plans if plan is not None]
                for plan, digest_id in zip(full, await self._store.create_digests(full), strict=True):
                    self._recaps_done.add((plan.channel, plan.local_date))
                    if digest_id is not None:
                        queued += 1
                        self._engine.offer(digest_id, plan)
            return queued
        except Exception:
            log.exception("could not plan %d weekly recap(s); the next tick tries again", len(wanted))
            return 0

    async def _queue(
        self, batch: list[tuple[ChannelSettings, date]], now: datetime, counts: dict[str, int]
    ) -> None:
        """Plan and record a batch of digests, and hand each new one to the engine."""
        plans = await self._planner.plan_many(batch)
        for plan in plans:
            if plan.is_empty:
                self._empty_until[(plan.channel, plan.local_date)] = now + self._empty_retry
                counts["empty"] += 1
        full = [plan for plan in plans if not plan.is_empty]
        for plan, digest_id in zip(full, await self._store.create_digests(full), strict=True):
            self._done.add((plan.channel, plan.local_date))
            if digest_id is None:
                counts["already"] += 1
            else:
                counts["created"] += 1
                self._engine.offer(digest_id, plan)

    def _forget_before(self, day: date) -> None:
        """Drop memories of local dates that can no longer be due."""
        self._done = {key for key in self._done if key[1] >= day}
        self._empty_until = {key: at for key, at in self._empty_until.items() if key[1] >= day}
        self._recaps_done = {key for key in self._recaps_done if key[1] >= day}


async def channel_statuses(store: Store, clock: Clock) -> list[ChannelStatus]:
    """Every scheduled channel with its next run, today's digest (by delivery state) and last delivery."""
    now = clock.now()
    statuses = []
    for settings in await store.list_channels():
        try:
            zone = channel_zone(settings)
        except ZoneUnavailable:
            # Shown with its pause reason; its day is counted in UTC until a loadable zone is set.
            zone = ZoneInfo("UTC")
        today = now.astimezone(zone).date()
        counts = await store.delivery_counts(settings.channel, today)
        try:
            upcoming = next_run(settings, now, done_today=bool(counts))
        except ZoneUnavailable:
            upcoming = None
        statuses.append(
            ChannelStatus(
                settings=settings,
                next_run=upcoming,
                today=today,
                today_counts=counts,
                last_posted_at=await store.last_posted_at(settings.channel),
            )
        )
    return statuses
