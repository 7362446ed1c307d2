"""`paperboy run`: every configured adapter, the HTTP server, the refresh and digest jobs, in one process."""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import logging
import signal
import sys
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TextIO

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from adapters.bootstrap import paperboy_app
from adapters.settings import Settings
from adapters.web import WebServer, build_web_app
from bot.app import Paperboy
from bot.domain import ChannelRef

log = logging.getLogger(__name__)


class RunningService(Protocol):
    """Something `paperboy run` started and must stop."""

    async def stop(self) -> None:
        """Stop cleanly."""
        ...


# Extra services other parts register (the digest scheduler, health endpoints); each gets the core,
# the settings, the scheduler and the web application before the server starts.
ServiceStarter = Callable[[Paperboy, Settings, AsyncIOScheduler, Any], Awaitable[RunningService | None]]
EXTRA_STARTERS: list[ServiceStarter] = []


def wants_console(settings: Settings, force_console: bool) -> bool:
    """The console runs when asked, or when no chat platform is configured."""
    return force_console or not (settings.has_slack or settings.has_discord)


async def serve(
    settings: Settings,
    *,
    force_console: bool = False,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
) -> int:
    """Run until the console's input ends, a signal arrives, or a platform connection fails for good."""
    from adapters.sources.refresh import refresh_job

    async with paperboy_app(settings) as paperboy:
        scheduler = AsyncIOScheduler(timezone="UTC")
        scheduler.start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
        services: list[RunningService] = []
        waiters: list[asyncio.Future[Any]] = [asyncio.ensure_future(stop.wait())]
        web_app = build_web_app()
        server: WebServer | None = None
        exit_code = 0
        try:
            async with refresh_job(scheduler, paperboy, settings, paperboy.clock):
                if settings.has_slack:
                    from adapters.slack.app import start_slack

                    socket_mode = settings.slack_app_token is not None
                    services.append(await start_slack(paperboy, settings, web_app=None if socket_mode else web_app))
                if settings.has_discord:
                    from adapters.discord.client import start_discord

                    discord = await start_discord(paperboy, settings)
                    services.append(discord)
                    waiters.append(asyncio.ensure_future(discord.wait()))
                for starter in EXTRA_STARTERS:
                    extra = await starter(paperboy, settings, scheduler, web_app)
                    if extra is not None:
                        services.append(extra)
                if settings.has_slack or settings.has_discord:
                    server = WebServer(web_app, "0.0.0.0", settings.port)
                    await server.start()
                console_task: asyncio.Task[int] | None = None
                if wants_console(settings, force_console):
                    from adapters.console.app import run_console

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
            for waiter in waiters:
                waiter.cancel()
            if server is not None:
                await server.stop()
            for service in reversed(services):
                try:
                    await service.stop()
                except Exception:
                    log.exception("a service did not stop cleanly")
            scheduler.shutdown(wait=False)
    return exit_code


def configure_logging(console_only: bool) -> None:
    """Log to stderr: warnings only beside the console prompt, everything useful when serving platforms."""
    logging.basicConfig(
        level=logging.WARNING if console_only else logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
