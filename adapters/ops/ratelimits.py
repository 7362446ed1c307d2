"""Rate-limit waits reported to telemetry, from inside the platform SDKs that do the waiting.

slack_sdk waits out a 429 in its retry handler; `ReportingRateLimitHandler` is that handler, timing each wait.
discord.py waits in its HTTP client and only logs it; `watch_discord_rate_limits` reads those log records.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

from bot.ports import Telemetry

DISCORD_HTTP_LOGGER = "discord.http"


class ReportingRateLimitHandler(AsyncRateLimitErrorRetryHandler):
    """slack_sdk's 429 handler (waits Retry-After, then retries) that reports each wait it made."""

    def __init__(self, telemetry: Telemetry, *, platform: str = "slack", max_retry_count: int = 3) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self._telemetry = telemetry
        self._platform = platform

    async def prepare_for_next_attempt_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        """Wait as slack_sdk does, then report how long that was."""
        started = time.monotonic()
        await super().prepare_for_next_attempt_async(
            state=state, request=request, response=response, error=error
        )
        self._telemetry.rate_limit_waited(self._platform, time.monotonic() - started)


class _DiscordWaits(logging.Filter):
    """Sees discord.py's "… Retrying in N seconds." warnings of 429s; lets every record through."""

    def __init__(self, telemetry: Telemetry) -> None:
        super().__init__()
        self._telemetry = telemetry

    def filter(self, record: logging.LogRecord) -> bool:
        """Report the wait a rate-limit record announces."""
        message = str(record.msg)
        if "rate limit" in message and "Retrying in" in message and record.args:
            args: Any = record.args
            seconds = args[-1] if isinstance(args, tuple) else None
            if isinstance(seconds, int | float):
                self._telemetry.rate_limit_waited("discord", float(seconds))
        return True


def watch_discord_rate_limits(telemetry: Telemetry) -> Callable[[], None]:
    """Report every rate-limit wait discord.py makes in this process; returns the function that stops it."""
    logger = logging.getLogger(DISCORD_HTTP_LOGGER)
    watcher = _DiscordWaits(telemetry)
    logger.addFilter(watcher)
    return lambda: logger.removeFilter(watcher)
