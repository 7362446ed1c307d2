"""The digest scheduler in `paperboy run`, and `paperboy digest --due` / `--status`.

A tick every minute (an APScheduler job) queues the digests that are due; the core's delivery engine posts
them, sharing the work with every other replica through the database. This module wires both to the
deployment: worker ids, leases, paces from the environment, and posting-only platform clients for the
command line.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from apscheduler.job import Job
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from adapters.app.settings import Settings
from bot.core import Paperboy
from bot.services.delivery import DEFAULT_PACES, DeliveryEngine, DeliveryPolicy, PlatformPace
from bot.services.due_digests import ChannelStatus, DigestScheduler, TickReport, channel_statuses

log = logging.getLogger(__name__)

TICK_JOB_ID = "paperboy-digest-tick"
STOP_GRACE_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class DeliverySettings:
    """How the digest scheduler and the delivery engine run; read from `Settings` (one source of truth)."""

    tick_seconds: float
    lease_seconds: float
    slack_rate: float
    discord_rate: float
    discord_post_interval: float
    attempts: int
    backoff_seconds: float
    max_digests: int

    @classmethod
    def from_settings(cls, settings: Settings) -> DeliverySettings:
        """The delivery part of the process settings."""
        return cls(
            tick_seconds=settings.digest_tick_seconds,
            lease_seconds=settings.delivery_lease_seconds,
            slack_rate=settings.slack_rate,
            discord_rate=settings.discord_rate,
            discord_post_interval=settings.discord_post_interval,
            attempts=settings.delivery_attempts,
            backoff_seconds=settings.delivery_backoff_seconds,
            max_digests=settings.delivery_concurrency,
        )

    def policy(self) -> DeliveryPolicy:
        """The delivery engine's policy for these settings."""
        paces = dict(DEFAULT_PACES)
        paces["slack"] = PlatformPace(
            channel_interval=0.0, rate=self.slack_rate or None, burst=DEFAULT_PACES["slack"].burst
        )
        paces["discord"] = PlatformPace(
            channel_interval=self.discord_post_interval,
            rate=self.discord_rate or None,
            burst=DEFAULT_PACES["discord"].burst,
        )
        return DeliveryPolicy(
            lease_seconds=self.lease_seconds,
            max_attempts=self.attempts,
            first_backoff=self.backoff_seconds,
            max_digests=self.max_digests,
            poll_seconds=min(5.0, max(0.5, self.lease_seconds / 4)),
            paces=paces,
        )


def worker_id() -> str:
    """This process's worker id: host, process id and a random part (a reused pid is never mistaken)."""
    host = socket.gethostname()[:80] or "host"
    return f"{host}:{os.getpid()}:{os.urandom(4).hex()}"


def local_worker_alive(worker: str) -> bool:
    """False only for a worker of this host whose process is gone; True whenever that cannot be told."""
    parts = worker.split(":")
    if len(parts) < 3:
        return True
    host, pid_text = ":".join(parts[:-2]), parts[-2]
    if host != socket.gethostname()[:80] or not pid_text.isdigit():
        return True
    pid = int(pid_text)
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    """A process that died but was not waited for still has its pid; Linux says so in /proc."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            return stat.read().rsplit(")", 1)[-1].split()[0] == "Z"
    except (OSError, IndexError):
        return False


def install_engine(paperboy: Paperboy, delivery: DeliverySettings) -> DeliveryEngine:
    """Give the core the deployment's delivery engine (shared by the scheduler and `/papers digest`)."""
    engine = DeliveryEngine(
        paperboy.store,
        worker=worker_id(),
        policy=delivery.policy(),
        telemetry=paperboy.telemetry,
        worker_alive=local_worker_alive,
    )
    paperboy.delivery.engine = engine
    return engine


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


async def start_digest_scheduler(
    paperboy: Paperboy, settings: Settings, scheduler: AsyncIOScheduler, web_app: Any
) -> DigestService:
    """`paperboy run`'s digest scheduler (registered in adapters.app.runner.EXTRA_STARTERS)."""
    delivery = DeliverySettings.from_settings(settings)
    service = DigestService(
        paperboy,
        install_engine(paperboy, delivery),
        tick_seconds=delivery.tick_seconds,
        scheduler=scheduler,
    )
    await service.start()
    return service


# ----- the command line -----


@asynccontextmanager
async def posting_publishers(paperboy: Paperboy, settings: Settings) -> AsyncIterator[None]:
    """Register a publisher for each configured platform, without serving anything (no HTTP, no gateway)."""
    async with AsyncExitStack() as stack:
        if settings.has_slack:
            await _slack_publisher(paperboy, settings, stack)
        if settings.has_discord:
            await _discord_publisher(paperboy, settings, stack)
        from adapters.console.repl import ConsolePublisher

        paperboy.publishers.setdefault("console", ConsolePublisher(sys.stdout))
        yield


async def _slack_publisher(paperboy: Paperboy, settings: Settings, stack: AsyncExitStack) -> None:
    from adapters.slack.bot import SlackService, build_slack_bot
    from adapters.slack.config import SlackConfig

    config = SlackConfig.from_settings(settings)
    engine = None
    if config.uses_oauth and not config.socket_mode:
        from storage.sql import create_engine_for

        engine = create_engine_for(settings.database_url)
    try:
        bot = await build_slack_bot(paperboy, config, engine=engine)
    except BaseException:
        if engine is not None:
            await engine.dispose()
        raise
    stack.push_async_callback(SlackService(bot, engine=engine).stop)


async def _discord_publisher(paperboy: Paperboy, settings: Settings, stack: AsyncExitStack) -> None:
    from adapters.discord.client import PaperboyDiscord
    from adapters.discord.config import DEFAULT_VOTE_EMOJIS, DiscordConfigError, point_discord_at

    if settings.discord_token is None:
        raise DiscordConfigError("Set DISCORD_TOKEN to the bot token from the Discord developer portal.")
    point_discord_at(settings.discord_api_url, settings.discord_gateway_url)
    emojis = tuple(e.strip() for e in (settings.discord_vote_emojis or "").split(",") if e.strip())
    client = PaperboyDiscord(paperboy, vote_emojis=emojis or DEFAULT_VOTE_EMOJIS)
    stack.push_async_callback(client.close)
    # Logging in (REST only) runs the client's setup hook, which registers its publisher with the core.
    await client.login(settings.discord_token.get_secret_value())


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


async def run_due(settings: Settings, delivery: DeliverySettings | None = None) -> DueReport:
    """One tick and every delivery it (or an earlier, interrupted run) left, to the end; then return."""
    from adapters.app.compose import paperboy_app

    delivery = delivery or DeliverySettings.from_settings(settings)
    async with paperboy_app(settings) as paperboy, posting_publishers(paperboy, settings):
        engine = install_engine(paperboy, delivery)
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
    from adapters.app.compose import paperboy_app

    async with paperboy_app(settings) as paperboy:
        return await channel_statuses(paperboy.store, paperboy.clock)


def format_due(report: DueReport) -> str:
    """`paperboy digest --due` in one line."""
    tick = report.tick
    text = (
        f"{tick.due} digest(s) due: {tick.created} queued, {tick.already} already there, "
        f"{tick.empty} with nothing new; {report.posted} message(s) posted."
    )
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
