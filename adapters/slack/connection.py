"""What every Slack process needs before the core exists: the Web API clients, installations and publisher.

`paperboy digest --due` only posts, so it needs no more than this; `paperboy run` builds the Bolt app on top
(adapters/slack/bot.py) once the core, which posts through this publisher, is built.
"""

from __future__ import annotations

import logging

import aiohttp
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import BackoffRetryIntervalCalculator
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.slack.config import SlackConfig
from adapters.slack.direct import DirectMessages
from adapters.slack.installations import SlackInstallations, open_installations
from adapters.slack.publisher import ChannelPacer, SlackPublisher
from adapters.slack.ratelimits import ReportingRateLimitHandler
from bot.ports import AddressBook, NullTelemetry, Telemetry

log = logging.getLogger(__name__)

PLATFORM = "slack"


# The Web API methods that create a message. A 5xx or a dropped connection may come after Slack posted it, so
# a retry of the same request can post it twice: the poster leaves these retries to the delivery engine, which
# looks for the first message before it posts again (a file shared in a conversation is a message too). A 429
# created nothing, and is still waited out here.
POSTING_METHODS = frozenset(
    {"chat.postMessage", "chat.postEphemeral", "chat.scheduleMessage", "files.completeUploadExternal"}
)


def api_method(request: HttpRequest) -> str:
    """The Web API method a request calls (`chat.postMessage`), from its URL."""
    return request.url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]


class NoPostRetries(AsyncRetryHandler):
    """Another retry handler's retries, except for requests that post a message (POSTING_METHODS)."""

    def __init__(self, inner: AsyncRetryHandler) -> None:
        super().__init__(inner.max_retry_count, inner.interval_calculator)
        self.inner = inner

    async def can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        """The inner handler's answer, or False for a posting method."""
        if api_method(request) in POSTING_METHODS:
            return False
        return await self.inner.can_retry_async(state=state, request=request, response=response, error=error)

    async def prepare_for_next_attempt_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        """Wait as the inner handler does."""
        await self.inner.prepare_for_next_attempt_async(
            state=state, request=request, response=response, error=error
        )


def retry_handlers(
    telemetry: Telemetry | None = None, *, retry_posts: bool = True
) -> list[AsyncRetryHandler]:
    """slack_sdk's own retries: 429 waits its Retry-After (reported as a rate-limit wait), 5xx and dropped
    connections back off, except, with `retry_posts=False`, for requests that post a message."""
    backoff = BackoffRetryIntervalCalculator(backoff_factor=0.5)
    failures: list[AsyncRetryHandler] = [
        AsyncServerErrorRetryHandler(max_retry_count=3, interval_calculator=backoff),
        AsyncConnectionErrorRetryHandler(max_retry_count=3, interval_calculator=backoff),
    ]
    if not retry_posts:
        failures = [NoPostRetries(handler) for handler in failures]
    return [
        ReportingRateLimitHandler(telemetry or NullTelemetry(), platform=PLATFORM, max_retry_count=3),
        *failures,
    ]


class SlackConnection:
    """Slack's Web API for one process: Bolt's client, the digest poster, installations and the publisher."""

    def __init__(
        self,
        config: SlackConfig,
        telemetry: Telemetry,
        installations: SlackInstallations | None,
        addresses: AddressBook | None = None,
    ) -> None:
        self.config = config
        self.telemetry = telemetry
        self.installations = installations
        # Bolt deep-copies each request's context (and the client in it) for lazy listeners, which an open
        # aiohttp session does not survive: Bolt's client opens a session per call, the publisher shares one.
        self.client = AsyncWebClient(
            token=None if config.uses_oauth else config.bot_token,
            base_url=config.base_url,
            retry_handlers=retry_handlers(telemetry),
            logger=log,
        )
        self.session = aiohttp.ClientSession()
        # The digest poster: the delivery engine retries its posts, after looking for the first one.
        self.poster = AsyncWebClient(
            base_url=config.base_url,
            session=self.session,
            retry_handlers=retry_handlers(telemetry, retry_posts=False),
            logger=log,
        )
        self.publisher = SlackPublisher(
            self.poster,
            self.bot_token,
            pacer=ChannelPacer(config.post_interval),
            vote_emoji=config.vote_emoji[0],
            # People's D… conversations are kept in the store too: a restart opens none of them again.
            direct=DirectMessages(self.poster, self.bot_token, addresses=addresses),
        )

    async def bot_token(self, team_id: str) -> str | None:
        """The bot token of a workspace: the configured one, or the OAuth installation's."""
        if self.installations is None:
            return self.config.bot_token
        return await self.installations.bot_token(team_id)

    async def close(self) -> None:
        """Release the shared HTTP session."""
        await self.session.close()


async def connect_slack(
    config: SlackConfig,
    telemetry: Telemetry,
    *,
    engine: AsyncEngine | None = None,
    addresses: AddressBook | None = None,
) -> SlackConnection:
    """The one Slack build: check the configuration, open the installations (OAuth) and the publisher.

    `addresses` (the store) keeps each person's D… conversation, so that no later process opens it again.
    """
    config.validate()
    installations: SlackInstallations | None = None
    if config.uses_oauth:
        if engine is None:
            raise ValueError("The OAuth install needs the database engine for its installation tables.")
        installations = await open_installations(engine, config.client_id or "", config.secret_keys)
    return SlackConnection(config, telemetry, installations, addresses)
