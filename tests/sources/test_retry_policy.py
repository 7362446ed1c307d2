"""Every source retries timeouts, lost connections and 5xx a bounded number of times, and waits out 429s."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from adapters.sources.errors import SourceError
from adapters.sources.hf import HuggingFaceClient
from adapters.sources.http import RetryPolicy, get_with_retries, rate_limit_wait

from .conftest import RecordedSleep, Script, json_response


async def fetch(script: Script, policy: RetryPolicy, sleep: RecordedSleep) -> httpx.Response:
    async with script.client() as http:
        return await get_with_retries(
            http, "/api/daily_papers", source="Hugging Face", policy=policy, sleep=sleep
        )


def test_default_timeouts_are_connect_5s_and_read_30s() -> None:
    client = HuggingFaceClient("http://hf.test")
    assert client.http.timeout.connect == 5.0
    assert client.http.timeout.read == 30.0


async def test_a_timeout_is_retried_and_the_answer_after_it_used(
    policy: RetryPolicy, sleep: RecordedSleep
) -> None:
    script = Script(httpx.ReadTimeout("slow"), json_response([]))
    response = await fetch(script, policy, sleep)
    assert response.json() == []
    assert len(script.requests) == 2
    assert len(sleep.waits) == 1


async def test_timeouts_are_retried_a_bounded_number_of_times(
    policy: RetryPolicy, sleep: RecordedSleep
) -> None:
    script = Script(httpx.ConnectTimeout("no answer"))
    with pytest.raises(SourceError, match="did not answer in time") as caught:
        await fetch(script, policy, sleep)
    assert len(script.requests) == policy.attempts
    assert len(sleep.waits) == policy.attempts - 1
    assert "tried 4 times" in str(caught.value)


async def test_connection_errors_are_retried_with_growing_backoff(
    policy: RetryPolicy, sleep: RecordedSleep
) -> None:
    script = Script(httpx.ConnectError("refused"))
    with pytest.raises(SourceError, match="Could not connect to Hugging Face"):
        await fetch(script, policy, sleep)
    assert len(script.requests) == 4
    # Exponential: initial·2^(n-1) plus at most `jitter` seconds.
    for n, wait in enumerate(sleep.waits, start=1):
        base = policy.backoff_initial * 2 ** (n - 1)
        assert base <= wait <= base + policy.jitter


async def test_server_errors_are_retried_then_reported(policy: RetryPolicy, sleep: RecordedSleep) -> None:
    script = Script(httpx.Response(503, text="busy"))
    with pytest.raises(SourceError, match="answered HTTP 503 4 times in a row"):
        await fetch(script, policy, sleep)
    assert len(script.requests) == 4


async def test_a_server_error_followed_by_success_is_success(
    policy: RetryPolicy, sleep: RecordedSleep
) -> None:
    script = Script(httpx.Response(502), httpx.Response(500), json_response([{"ok": 1}]))
    response = await fetch(script, policy, sleep)
    assert response.json() == [{"ok": 1}]
    assert len(script.requests) == 3


async def test_429_waits_what_retry_after_says(policy: RetryPolicy, sleep: RecordedSleep) -> None:
    script = Script(httpx.Response(429, headers={"Retry-After": "7"}), json_response([]))
    await fetch(script, policy, sleep)
    assert len(sleep.waits) == 1
    assert sleep.waits[0] >= 7


async def test_429_waits_what_ratelimit_reset_says(policy: RetryPolicy, sleep: RecordedSleep) -> None:
    script = Script(httpx.Response(429, headers={"RateLimit-Reset": "42"}), json_response([]))
    await fetch(script, policy, sleep)
    assert sleep.waits[0] >= 42


async def test_429_waits_what_the_ratelimit_header_says(policy: RetryPolicy, sleep: RecordedSleep) -> None:
    headers = {"RateLimit": '"api";r=0;t=55', "RateLimit-Policy": '"api";q=500;w=300'}
    script = Script(httpx.Response(429, headers=headers), json_response([]))
    await fetch(script, policy, sleep)
    assert sleep.waits[0] >= 55


async def test_429_never_waits_less_than_the_longest_header(
    policy: RetryPolicy, sleep: RecordedSleep
) -> None:
    headers = {"Retry-After": "3", "RateLimit-Reset": "30"}
    script = Script(httpx.Response(429, headers=headers), json_response([]))
    await fetch(script, policy, sleep)
    assert sleep.waits[0] >= 30


async def test_429_without_headers_still_backs_off(policy: RetryPolicy, sleep: RecordedSleep) -> None:
    script = Script(httpx.Response(429), json_response([]))
    await fetch(script, policy, sleep)
    assert sleep.waits[0] >= policy.backoff_initial


async def test_429_asking_longer_than_we_wait_is_reported_at_once(sleep: RecordedSleep) -> None:
    policy = RetryPolicy(max_rate_limit_wait=300)
    script = Script(httpx.Response(429, headers={"Retry-After": "3600"}))
    with pytest.raises(SourceError, match="asks to wait 3600 s"):
        await fetch(script, policy, sleep)
    assert len(script.requests) == 1
    assert sleep.waits == []


async def test_429_every_time_gives_up_after_the_bounded_tries(
    policy: RetryPolicy, sleep: RecordedSleep
) -> None:
    script = Script(httpx.Response(429, headers={"Retry-After": "1"}))
    with pytest.raises(SourceError, match="rate-limiting"):
        await fetch(script, policy, sleep)
    assert len(script.requests) == policy.attempts


def test_retry_after_as_an_http_date_is_understood() -> None:
    now = datetime(2026, 3, 6, 12, 0, tzinfo=UTC)
    later = format_datetime(now + timedelta(seconds=90), usegmt=True)
    response = httpx.Response(429, headers={"Retry-After": later})
    assert rate_limit_wait(response, now) == pytest.approx(90)


async def test_a_client_error_is_reported_without_retrying(policy: RetryPolicy, sleep: RecordedSleep) -> None:
    script = Script(httpx.Response(404, json={"error": "Not Found"}))
    with pytest.raises(SourceError, match="HTTP 404"):
        await fetch(script, policy, sleep)
    assert len(script.requests) == 1


async def test_a_refused_loopback_connection_is_one_clear_sentence(sleep: RecordedSleep) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # The port is closed again: nothing listens there.
    async with HuggingFaceClient(
        f"http://127.0.0.1:{port}", policy=RetryPolicy(attempts=2), sleep=sleep
    ) as hf:
        with pytest.raises(
            SourceError, match=rf"Could not connect to Hugging Face at http://127.0.0.1:{port}"
        ):
            await hf.fetch(week="2025-W36")
    assert len(sleep.waits) == 1
