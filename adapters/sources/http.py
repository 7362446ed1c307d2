"""The retry policy every paper source shares: bounded retries with backoff and jitter, and 429s waited out.

Built on tenacity: its wait strategy can read the failed response (for `Retry-After` / `RateLimit-Reset`), its
sleep function can be injected (tests observe waits instead of sleeping), and it is async-native.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from importlib.metadata import PackageNotFoundError, version
from types import TracebackType
from typing import Any, Self

import httpx
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    retry_if_result,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)

from adapters.settings import Settings
from adapters.sources.errors import ResponseTooLarge, SourceError

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]
Pace = Callable[[], AbstractAsyncContextManager[None]]

RETRYABLE_EXCEPTIONS = (httpx.TimeoutException, httpx.TransportError)
RATE_LIMITED = 429
_RATELIMIT_T = re.compile(r"(?:^|[;,\s])t=(\d+(?:\.\d+)?)")
# A reset value this large is an epoch timestamp, not a number of seconds.
_EPOCH_THRESHOLD = 1_000_000_000


class SourceClient:
    """A source client over one httpx.AsyncClient: closes it on exit only when it made it itself."""

    http: httpx.AsyncClient
    _owns_http: bool

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP client when this object made it."""
        if self._owns_http:
            await self.http.aclose()


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard a source is tried before its failure is reported."""

    attempts: int = 4
    backoff_initial: float = 0.5
    backoff_max: float = 8.0
    jitter: float = 0.5
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    # A server asking for more than this is reported, never waited short.
    max_rate_limit_wait: float = 300.0
    # Per-read timeouts alone let a server that sends one byte just inside each timeout hold a request forever:
    # the whole request (every try and every wait between them) ends by this many seconds.
    deadline: float = 120.0
    # A larger answer is refused: no source sends anything near this for one page.
    max_bytes: int = 16 * 1024 * 1024

    @classmethod
    def from_settings(cls, settings: Settings) -> RetryPolicy:
        """The default policy with the deadline and size cap of PAPERBOY_SOURCE_DEADLINE / _MAX_BYTES."""
        return cls(deadline=settings.source_deadline_seconds, max_bytes=settings.source_max_bytes)

    def timeout(self) -> httpx.Timeout:
        """The httpx timeout: connect and read as configured, write and pool like read."""
        return httpx.Timeout(self.read_timeout, connect=self.connect_timeout)


def package_version() -> str:
    """The installed version of paperboy-bot, for User-Agent headers."""
    try:
        return version("paperboy-bot")
    except PackageNotFoundError:
        return "0"


def make_client(
    base_url: str,
    *,
    policy: RetryPolicy,
    user_agent: str | None = None,
    max_connections: int | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> httpx.AsyncClient:
    """An AsyncClient with the policy's timeouts, the bot's User-Agent and an optional connection cap."""
    headers = {"User-Agent": user_agent or f"paperboy-bot/{package_version()}"}
    limits = httpx.Limits(max_connections=max_connections) if max_connections else httpx.Limits()
    return httpx.AsyncClient(
        base_url=base_url,
        headers=headers,
        timeout=policy.timeout(),
        limits=limits,
        transport=transport,
        follow_redirects=True,
    )


def rate_limit_wait(response: httpx.Response, now: datetime | None = None) -> float | None:
    """Seconds a 429 asks to wait (`Retry-After`, `RateLimit-Reset`, `RateLimit: …;t=N`); None if unsaid."""
    waits: list[float] = []
    retry_after = response.headers.get("Retry-After")
    if retry_after:
        waits.extend(_seconds_from(retry_after, now))
    reset = response.headers.get("RateLimit-Reset") or response.headers.get("X-RateLimit-Reset")
    if reset:
        waits.extend(_seconds_from(reset, now))
    combined = response.headers.get("RateLimit")
    if combined:
        match = _RATELIMIT_T.search(combined)
        if match:
            waits.append(float(match.group(1)))
    # When headers disagree, honour the longest: waiting less than any of them would be refused again.
    return max(waits) if waits else None


def _seconds_from(value: str, now: datetime | None) -> list[float]:
    value = value.strip()
    now = now or datetime.now(UTC)
    try:
        number = float(value)
    except ValueError:
        try:
            moment = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return []
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return [max(0.0, (moment - now).total_seconds())]
    if number >= _EPOCH_THRESHOLD:
        return [max(0.0, number - now.timestamp())]
    return [max(0.0, number)]


def _times(count: int) -> str:
    return "once" if count == 1 else f"{count} times"


def _retryable_response(response: httpx.Response) -> bool:
    return response.status_code == RATE_LIMITED or response.status_code >= 500


class _Wait:
    """Exponential backoff with jitter, raised to what a 429 asks for."""

    def __init__(self, policy: RetryPolicy) -> None:
        # initial·2^(n-1) capped at backoff_max, plus up to `jitter` seconds so clients do not retry in step.
        self.backoff = wait_exponential(
            multiplier=policy.backoff_initial, max=policy.backoff_max
        ) + wait_random(0, policy.jitter)

    def __call__(self, state: RetryCallState) -> float:
        wait = float(self.backoff(state))
        outcome = state.outcome
        if outcome is not None and not outcome.failed:
            response = outcome.result()
            if isinstance(response, httpx.Response) and response.status_code == RATE_LIMITED:
                asked = rate_limit_wait(response)
                if asked is not None:
                    wait = max(wait, asked)
        return wait


class _Stop:
    """Stop after the policy's attempts, or at once when a 429 asks for longer than we are willing to wait.

    Willing means both `max_rate_limit_wait` and what is left of the request's deadline: a wait that would run
    past the deadline is reported now, with the server's own figure, rather than cut short by it.
    """

    def __init__(self, policy: RetryPolicy, give_up_at: float) -> None:
        self.policy = policy
        self.give_up_at = give_up_at
        self.attempts = stop_after_attempt(policy.attempts)

    def __call__(self, state: RetryCallState) -> bool:
        if self.attempts(state):
            return True
        outcome = state.outcome
        if outcome is not None and not outcome.failed:
            response = outcome.result()
            if isinstance(response, httpx.Response) and response.status_code == RATE_LIMITED:
                asked = rate_limit_wait(response)
                left = self.give_up_at - asyncio.get_running_loop().time()
                return asked is not None and asked > min(self.policy.max_rate_limit_wait, left)
        return False


def _size(count: int) -> str:
    if count >= 1024 * 1024:
        return f"{count / (1024 * 1024):g} MiB"
    return f"{count / 1024:g} KiB" if count >= 1024 else f"{count} bytes"


async def read_capped(
    http: httpx.AsyncClient, url: str, *, params: Mapping[str, Any] | None, source: str, max_bytes: int
) -> httpx.Response:
    """GET and read the body, refusing (ResponseTooLarge) one larger than `max_bytes` once it gets there.

    A declared Content-Length over the cap is refused before any of the body is read. The body is counted
    decoded (after gzip), so a small compressed answer cannot unpack into gigabytes either.
    """
    request = http.build_request("GET", url, params=params)
    response = await http.send(request, stream=True)
    try:
        declared = response.headers.get("Content-Length", "")
        too_large = ResponseTooLarge(
            f"{source} sent an answer larger than {_size(max_bytes)} at {response.request.url}; it was "
            "refused (PAPERBOY_SOURCE_MAX_BYTES sets the limit)."
        )
        if declared.isdigit() and int(declared) > max_bytes:
            raise too_large
        body = bytearray()
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) > max_bytes:
                raise too_large
    finally:
        await response.aclose()
    # A plain response holding the decoded body: the encoding headers no longer describe it.
    headers = [
        (name, value)
        for name, value in response.headers.multi_items()
        if name.lower() not in ("content-encoding", "content-length", "transfer-encoding")
    ]
    return httpx.Response(
        response.status_code, headers=headers, content=bytes(body), request=response.request
    )


@asynccontextmanager
async def _no_pace() -> AsyncIterator[None]:
    yield


async def get_with_retries(
    http: httpx.AsyncClient,
    url: str,
    *,
    params: Mapping[str, Any] | None = None,
    source: str,
    policy: RetryPolicy,
    sleep: Sleep = asyncio.sleep,
    pace: Pace | None = None,
) -> httpx.Response:
    """GET with the shared policy and return a 2xx response; raise SourceError with one sentence otherwise.

    `pace` wraps every single attempt (arXiv's limiter), so retries obey the same spacing as first tries.
    The whole call, tries and waits included, ends within `policy.deadline` seconds; an answer larger than
    `policy.max_bytes` is refused without a retry.
    """
    pacer = pace or _no_pace

    async def attempt() -> httpx.Response:
        async with pacer():
            # Read the body inside the paced slot, so the connection is released before the next request.
            return await read_capped(http, url, params=params, source=source, max_bytes=policy.max_bytes)

    def last_outcome(state: RetryCallState) -> httpx.Response:
        assert state.outcome is not None
        response: httpx.Response = state.outcome.result()  # re-raises what the last try raised
        return response

    def before_sleep(state: RetryCallState) -> None:
        outcome = state.outcome
        reason = (
            repr(outcome.exception())
            if outcome is not None and outcome.failed
            else f"HTTP {outcome.result().status_code}"
            if outcome is not None
            else "?"
        )
        wait = state.next_action.sleep if state.next_action is not None else 0.0
        log.info("%s: %s on try %d; retrying in %.1f s", source, reason, state.attempt_number, wait)

    give_up_at = asyncio.get_running_loop().time() + policy.deadline
    deadline = asyncio.timeout_at(give_up_at)
    retrying = AsyncRetrying(
        sleep=sleep,
        stop=_Stop(policy, give_up_at),
        wait=_Wait(policy),
        retry=retry_if_exception_type(RETRYABLE_EXCEPTIONS) | retry_if_result(_retryable_response),
        retry_error_callback=last_outcome,
        before_sleep=before_sleep,
    )
    full_url = http.base_url.join(url) if http.base_url else httpx.URL(url)
    try:
        async with deadline:
            response: httpx.Response = await retrying(attempt)
    except TimeoutError as error:
        if not deadline.expired():
            raise
        raise SourceError(
            f"{source} did not finish answering within {policy.deadline:g} s at {full_url} (a server that "
            "sends too slowly or stalls); gave up, try again later."
        ) from error
    except httpx.TimeoutException as error:
        raise SourceError(
            f"{source} did not answer in time at {full_url} ({type(error).__name__}, "
            f"tried {_times(policy.attempts)}); try again later."
        ) from error
    except httpx.TransportError as error:
        raise SourceError(
            f"Could not connect to {source} at {full_url} ({error or type(error).__name__}, "
            f"tried {_times(policy.attempts)}); check the address and the network."
        ) from error
    if response.status_code == RATE_LIMITED:
        asked = rate_limit_wait(response)
        if asked is not None:
            raise SourceError(
                f"{source} is rate-limiting us (HTTP 429) and asks to wait {asked:.0f} s; "
                "try again after that."
            )
        raise SourceError(f"{source} is rate-limiting us (HTTP 429); try again in a few minutes.")
    if response.status_code >= 500:
        raise SourceError(
            f"{source} answered HTTP {response.status_code} {policy.attempts} times in a row at "
            f"{full_url}; try again later."
        )
    if response.status_code >= 400:
        raise SourceError(
            f"{source} refused the request with HTTP {response.status_code} at {response.request.url}."
        )
    return response
