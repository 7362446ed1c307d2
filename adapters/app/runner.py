"""`paperboy run`: every configured adapter, the HTTP server, the refresh and digest jobs, in one process."""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import logging
import signal
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol, TextIO

from aiohttp import web
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from adapters.app.compose import House, compose
from adapters.app.index_sync import start_index_sync
from adapters.app.jobs import start_digest_scheduler
from adapters.discord.ratelimits import watch_discord_rate_limits
from adapters.ops.health import Readiness, ReadinessCheck, add_health_routes, database_check
from adapters.ops.heap import limit_malloc_arenas, trim_heap
from adapters.ops.logs import setup_logging
from adapters.ops.telemetry import Observability
from adapters.settings import Settings
from adapters.web import WebServer, build_web_app
from bot.domain import ChannelRef

if TYPE_CHECKING:
    from adapters.discord.client import DiscordRunner
    from adapters.slack.bot import SlackService

log = logging.getLogger(__name__)


class RunningService(Protocol):
    """Something `paperboy run` started and must stop."""

    async def stop(self) -> None:
        """Stop cleanly."""
        ...


# Extra services other parts register (the digest scheduler, health endpoints); each gets the core,
# the settings, the scheduler and the web application before the server starts.
ServiceStarter = Callable[[House, AsyncIOScheduler, Any], Awaitable[RunningService | None]]
EXTRA_STARTERS: list[ServiceStarter] = [start_index_sync, start_digest_scheduler]
HEAP_TRIM_JOB_ID = "paperboy-heap-trim"


def wants_console(settings: Settings, force_console: bool) -> bool:
    """The console runs when asked, or when no chat platform is configured."""
    return force_console or not (settings.has_slack or settings.has_discord)


def serves_http(settings: Settings) -> bool:
    """The HTTP port is served for a chat platform, or for health and metrics when asked."""
    return settings.has_slack or settings.has_discord or settings.serve_http


def slack_connected(service: SlackService) -> ReadinessCheck:
    """Ready when Socket Mode is connected; in HTTP mode Slack comes to us, so being up is enough."""

    async def check() -> str | None:
        if service.socket is not None and not await service.socket.client.is_connected():
            return "Socket Mode is not connected"
        return None

    return check


def discord_connected(runner: DiscordRunner) -> ReadinessCheck:
    """Ready when every shard of this replica is connected and has its guilds."""

    async def check() -> str | None:
        client = runner.client
        if runner.task.done() or client.is_closed():
            return "the gateway connection is closed"
        if not client.is_ready():
            return "the gateway is not ready yet"
        return None

    return check


async def _stop_within(stop: Awaitable[None], deadline: float, what: str) -> None:
    """Await one stop until the shutdown deadline (at least a moment); log, never raise."""
    remaining = max(0.2, deadline - asyncio.get_running_loop().time())
    try:
        async with asyncio.timeout(remaining):
            await stop
    except TimeoutError:
        log.error("%s did not stop in time; closing anyway", what)
    except Exception:
        log.exception("%s did not stop cleanly", what)


async def serve(
    settings: Settings,
    *,
    force_console: bool = False,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
) -> int:
    """Run until the console's input ends, a signal arrives, or a platform connection fails for good.

    On SIGTERM or SIGINT: /readyz turns 503, no new scheduled work starts, the HTTP server stops taking
    requests, then each service (newest first: the digest engine before the platforms it posts through) gets
    what is left of PAPERBOY_SHUTDOWN_SECONDS to finish or release its work; then the store closes and the
    exit code is 0.
    """
    from adapters.sources.refresh import refresh_job

    # Before compose starts the threads that would each take an arena (adapters.ops.heap).
    limit_malloc_arenas()
    telemetry = Observability()
    # Chat platforms must be answered at once, so the start-up catch-up of the index runs in the background
    # there; the console alone can wait for it and then answer from everything stored.
    serves_platforms = settings.has_slack or settings.has_discord
    console = wants_console(settings, force_console)
    async with compose(
        settings,
        platforms=True,
        console=(stdout or sys.stdout) if console else None,
        telemetry=telemetry,
        catch_up=not serves_platforms,
    ) as house:
        paperboy = house.core
        scheduler = AsyncIOScheduler(timezone="UTC")
        scheduler.start()
        # Once a tick, what the last round of work freed (planning, deliveries, searches) goes back to the system.
        scheduler.add_job(trim_heap, "interval", seconds=house.delivery.tick_seconds, id=HEAP_TRIM_JOB_ID)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
        services: list[RunningService] = []
        cleanups: list[Callable[[], None]] = []
        waiters: list[asyncio.Future[Any]] = [asyncio.ensure_future(stop.wait())]
        web_app = build_web_app()
        readiness = Readiness()
        # With PAPERBOY_METRICS_PORT, /metrics (channel and workspace ids, volumes) leaves the public port for a
        # port of its own that need not be published; the probes are answered on both.
        metrics_app: web.Application | None = None
        if settings.metrics_port is not None:
            metrics_app = build_web_app()
            add_health_routes(metrics_app, readiness, telemetry.metrics)
        add_health_routes(web_app, readiness, telemetry.metrics, with_metrics=metrics_app is None)
        readiness.add("database", database_check(house.store.engine))
        servers: list[WebServer] = []
        exit_code = 0
        try:
            async with refresh_job(scheduler, paperboy, settings, paperboy.clock):
                if house.slack is not None:
                    from adapters.slack.bot import serve_slack

                    socket_mode = house.slack.config.socket_mode
                    slack = await serve_slack(paperboy, house.slack, web_app=None if socket_mode else web_app)
                    services.append(slack)
                    readiness.add("slack", slack_connected(slack))
                if house.discord is not None:
                    from adapters.discord.client import serve_discord

                    cleanups.append(watch_discord_rate_limits(telemetry))
                    discord = serve_discord(house.discord, paperboy)
                    services.append(discord)
                    readiness.add("discord", discord_connected(discord))
                    waiters.append(asyncio.ensure_future(discord.wait()))
                for starter in EXTRA_STARTERS:
                    extra = await starter(house, scheduler, web_app)
                    if extra is not None:
                        services.append(extra)
                if serves_http(settings):
                    servers.append(WebServer(web_app, settings.host, settings.port))
                    await servers[-1].start()
                if metrics_app is not None and settings.metrics_port is not None:
                    servers.append(WebServer(metrics_app, settings.host, settings.metrics_port))
                    await servers[-1].start()
                console_task: asyncio.Task[int] | None = None
                if console:
                    from adapters.console.repl import run_console

                    channel = ChannelRef.parse(settings.console_channel)
                    console_task = asyncio.create_task(
                        run_console(paperboy, channel, getpass.getuser(), stdin=stdin, stdout=stdout)
                    )
                    waiters.append(console_task)
                done, _ = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
                for finished in done:
                    if finished.exception() is not None:
                        log.error("stopping: %s", finished.exception())
                        exit_code = 1
        finally:
            readiness.stopping = True
            deadline = loop.time() + settings.shutdown_seconds
            if stop.is_set():
                log.info("stopping: finishing work for at most %g s", settings.shutdown_seconds)
            for waiter in waiters:
                waiter.cancel()
            # No new scheduled work (refresh, digest ticks) from now on; running jobs go on until their stop.
            scheduler.pause()
            for server in servers:
                await _stop_within(server.stop(), deadline, f"the HTTP server on port {server.port}")
            for service in reversed(services):
                await _stop_within(service.stop(), deadline, type(service).__name__)
            # Cancels what scheduled work is still running (a refresh: its transaction rolls back).
            scheduler.shutdown(wait=False)
            for cleanup in cleanups:
                cleanup()
            await asyncio.sleep(0)
    return exit_code


def configure_logging(console_only: bool, settings: Settings | None = None) -> None:
    """Log to stderr, JSON unless on a terminal, secrets scrubbed: WARNING beside the console, else INFO."""
    settings = settings or Settings()
    setup_logging(
        level=settings.log_level or ("WARNING" if console_only else "INFO"),
        log_format=settings.log_format,
        secrets=settings.secret_values(),
        stream=sys.stderr,
    )
