"""Keep Daily Papers fresh: re-read today's and yesterday's lists, update counts, enrich new papers.

`schedule_refresh` puts the job on an APScheduler AsyncIOScheduler; `refresh_job` also opens the two clients
from settings and closes them when `paperboy run` stops. A failed refresh is logged and writes nothing it
could not read: the store keeps what it had (it merges, so no field is blanked by a partial answer).
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

from apscheduler.job import Job
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from adapters.settings import Settings
from adapters.sources.arxiv import ArxivClient
from adapters.sources.errors import SourceError
from adapters.sources.hf import FetchResult, HuggingFaceClient
from adapters.sources.http import RetryPolicy
from bot.domain import Paper, UpsertCounts
from bot.ports import Clock, LeaseBook, PaperRepository

log = logging.getLogger(__name__)

REFRESH_JOB_ID = "paperboy-refresh-daily-papers"
REFRESH_LEASE = "refresh-daily-papers"
# A run may read its sources for this share of the period: it ends (and writes what it read) before the next
# run is due, which APScheduler would otherwise skip while this one still holds the job's only instance.
RUN_SHARE_OF_PERIOD = 0.8


class RefreshTurn:
    """Whose turn it is to refresh: one replica at a time, the holder of a lease in the shared database.

    Every replica runs the job on its own timer; a run first takes the lease (an atomic conditional write),
    for one period. The holder renews it at each of its runs; the others find it held and skip theirs. If the
    holder dies, its lease runs out a period after its last run and the next run of another replica takes
    it over, so at most one refresh is missed. A replica that stops gives the lease up at once.
    """

    def __init__(
        self, leases: LeaseBook, clock: Clock, period: timedelta, *, holder: str | None = None
    ) -> None:
        self.leases = leases
        self.clock = clock
        self.period = period
        # Host and pid for people reading the table; the random part makes two processes never one holder.
        self.holder = holder or f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(6)}"

    async def take(self) -> bool:
        """Hold the refresh for one period from now (taking it over when it ran out); True when this is ours."""
        now = self.clock.now()
        return await self.leases.take_lease(REFRESH_LEASE, self.holder, now, now + self.period)

    async def give_up(self) -> None:
        """Let another replica refresh at its next run (this one stops)."""
        await self.leases.release_lease(REFRESH_LEASE, self.holder)


class IngestTarget(Protocol):
    """What the sources need of the core (`bot.core.Paperboy`): its store and `ingest`."""

    @property
    def store(self) -> PaperRepository:
        """The paper store."""
        ...

    async def ingest(self, papers: Sequence[Paper], *, source: str = "other") -> UpsertCounts:
        """Store papers (one transaction) and index them; `source` names the feed in metrics and logs."""
        ...


@dataclass(slots=True)
class RefreshReport:
    """What one refresh did."""

    days: list[date]
    counts: UpsertCounts = field(default_factory=UpsertCounts)
    fetched: int = 0
    skipped: int = 0
    enriched: int = 0
    warnings: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One log line."""
        c = self.counts
        return (
            f"refreshed {', '.join(d.isoformat() for d in self.days)}: {self.fetched} fetched, "
            f"{c.new} new, {c.updated} updated, {c.unchanged} unchanged, {self.skipped} skipped, "
            f"{self.enriched} enriched from arXiv, {len(self.failures)} failures"
        )


async def enrich_and_ingest(
    app: IngestTarget,
    papers: Sequence[Paper],
    arxiv: ArxivClient | None,
    *,
    give_up_at: float | None = None,
) -> tuple[UpsertCounts, int]:
    """Store Hugging Face papers, adding arXiv's categories, comment, journal ref and DOI where missing.

    Returns (counts, papers enriched). When arXiv cannot be read the papers are stored without enrichment;
    the next refresh tries again (a paper lacks enrichment until it has categories). Everything goes in one
    `ingest` call, so one transaction; the store merges both sources' records of a paper into one row.
    Reading arXiv stops at `give_up_at` (the event loop's clock); the papers are then stored without it.
    """
    if not papers:
        return UpsertCounts(), 0
    enrichment: list[Paper] = []
    if arxiv is not None:
        stored = await app.store.get_papers([p.arxiv_id for p in papers])
        lacking = [
            p.arxiv_id for p in papers if not (known := stored.get(p.arxiv_id)) or not known.categories
        ]
        if lacking:
            try:
                async with asyncio.timeout_at(give_up_at):
                    enrichment = (await arxiv.fetch_by_ids(lacking)).papers
            except SourceError as error:
                log.warning("arXiv enrichment skipped: %s", error)
            except TimeoutError:
                log.warning("arXiv enrichment skipped: the refresh ran out of time; the next one tries again")
    # arXiv first, Hugging Face last: for fields both carry, the store keeps the later (HF's) value.
    counts = await app.ingest([*enrichment, *papers], source="hf")
    return counts, len(enrichment)


async def refresh_daily_papers(
    app: IngestTarget,
    hf: HuggingFaceClient,
    arxiv: ArxivClient | None,
    clock: Clock,
    *,
    budget: float | None = None,
) -> RefreshReport:
    """Re-read today's and yesterday's Daily Papers (UTC), store them, and enrich new ones from arXiv.

    A day that cannot be read is reported in `failures` and skipped; the other day is still stored. With a
    `budget`, the sources are read for at most that many seconds; what was read by then is stored.
    """
    today = clock.now().astimezone(UTC).date()
    report = RefreshReport(days=[today - timedelta(days=1), today])
    fetched = FetchResult()
    give_up_at = asyncio.get_running_loop().time() + budget if budget is not None else None
    for day in report.days:
        try:
            async with asyncio.timeout_at(give_up_at):
                fetched.extend(await hf.fetch(date=day))
        except SourceError as error:
            # Said once for the whole run by the scheduled job (`schedule_refresh`), not once per day.
            report.failures.append(str(error))
            log.debug("refresh of %s failed: %s", day.isoformat(), error)
        except TimeoutError:
            report.failures.append(
                f"Hugging Face was still being read after {budget:g} s; this refresh gave up on it."
            )
            break
    report.fetched = len(fetched.papers)
    report.skipped = fetched.skipped
    report.warnings.extend(fetched.warnings)
    report.counts, report.enriched = await enrich_and_ingest(
        app, fetched.papers, arxiv, give_up_at=give_up_at
    )
    return report


def schedule_refresh(
    scheduler: AsyncIOScheduler,
    app: IngestTarget,
    hf: HuggingFaceClient,
    arxiv: ArxivClient | None,
    clock: Clock,
    *,
    minutes: int,
    run_now: bool = True,
    budget_seconds: float | None = None,
    turn: RefreshTurn | None = None,
) -> Job:
    """Run `refresh_daily_papers` every `minutes`, first at once by default; never crash the scheduler.

    A source that cannot be read (offline, Hugging Face down) is one warning line when it starts failing, saying
    that it retries every `minutes`; while it goes on failing each run is an info record, its recovery one more.
    Each run reads its sources for at most `budget_seconds` (default: 80 % of the period), so a source that
    hangs costs one run, never the ones after it. With a `turn`, a run refreshes only when it is this
    replica's turn (one replica at a time polls the sources for all).
    """
    every = max(1, minutes)
    budget = budget_seconds if budget_seconds is not None else every * 60 * RUN_SHARE_OF_PERIOD
    failing = False

    async def run_safely() -> None:
        nonlocal failing
        if turn is not None and not await my_turn(turn):
            return
        try:
            report = await refresh_daily_papers(app, hf, arxiv, clock, budget=budget)
        except asyncio.CancelledError:
            # The bot is stopping mid-refresh (often while waiting to retry an unreachable Hugging Face): nothing
            # was written and the next start refreshes. Re-raised, APScheduler would log the stop as a failed job,
            # traceback and all, on every offline `make run` that ends within a retry.
            log.info("Daily Papers refresh stopped: the bot is shutting down")
            return
        except Exception:
            # Whatever went wrong, the next tick tries again; nothing was written by a run that raised.
            log.exception("Daily Papers refresh failed; the store was left as it was")
            return
        if report.failures:
            # The same reason for both days (the address, the network) is said once.
            reasons = " ".join(dict.fromkeys(report.failures))
            if not reasons.endswith("."):
                reasons += "."
            log.log(
                logging.INFO if failing else logging.WARNING,
                "Daily Papers not refreshed, retrying every %d min: %s",
                every,
                reasons,
                extra={"event": "refresh_failed", "failures": len(report.failures), "retry_minutes": every},
            )
            failing = True
        elif failing:
            log.info("Daily Papers refresh works again", extra={"event": "refresh_recovered"})
            failing = False
        log.info(report.summary())
        for warning in report.warnings:
            log.info("refresh: %s", warning)

    options: dict[str, Any] = {}
    if run_now:
        options["next_run_time"] = datetime.now(UTC)
    return scheduler.add_job(
        run_safely,
        trigger=IntervalTrigger(minutes=every),
        id=REFRESH_JOB_ID,
        name="Refresh Daily Papers",
        replace_existing=True,
        max_instances=1,
        coalesce=True,
        misfire_grace_time=max(60, minutes * 30),
        **options,
    )


async def my_turn(turn: RefreshTurn) -> bool:
    """True when this replica holds the refresh now; False (logged) when another does or none can tell."""
    try:
        mine = await turn.take()
    except Exception:
        # Without the database the refresh could store nothing anyway; the next run asks again.
        log.exception("could not tell whose turn it is to refresh Daily Papers; the next run asks again")
        return False
    if not mine:
        log.debug("another replica refreshes Daily Papers this period")
    return mine


@asynccontextmanager
async def refresh_job(
    scheduler: AsyncIOScheduler, app: IngestTarget, settings: Settings, clock: Clock
) -> AsyncIterator[Job | None]:
    """Open both clients from settings and schedule the refresh; on exit remove the job, close the clients.

    PAPERBOY_REFRESH_MINUTES=0 (or less) turns the refresh off: nothing is scheduled and None is yielded.
    With a store that keeps leases (the SQL store every replica shares), the replicas take turns: one of
    them polls the sources each period, not each replica (see `RefreshTurn`).
    """
    if settings.refresh_minutes <= 0:
        log.info("Daily Papers refresh is off (PAPERBOY_REFRESH_MINUTES=%s)", settings.refresh_minutes)
        yield None
        return
    policy = RetryPolicy.from_settings(settings)
    async with (
        HuggingFaceClient(settings.hf_api_url, policy=policy) as hf,
        ArxivClient(settings.arxiv_api_url, contact=settings.contact_email, policy=policy) as arxiv,
    ):
        store = app.store
        turn = (
            RefreshTurn(store, clock, timedelta(minutes=max(1, settings.refresh_minutes)))
            if isinstance(store, LeaseBook)
            else None
        )
        job = schedule_refresh(scheduler, app, hf, arxiv, clock, minutes=settings.refresh_minutes, turn=turn)
        try:
            yield job
        finally:
            with suppress(JobLookupError):
                job.remove()
            if turn is not None:
                with suppress(Exception):
                    await turn.give_up()  # best effort: otherwise the lease runs out within a period
