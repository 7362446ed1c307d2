"""slack_sdk's 429 handler, reporting each rate-limit wait to telemetry."""

from __future__ import annotations

import time

from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

from bot.ports import Telemetry


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
