"""Rate-limit waits inside slack_sdk and discord.py reach the metrics, against loopback fakes that answer 429."""

from __future__ import annotations

import discord
from discord.http import Route
from slack_sdk.web.async_client import AsyncWebClient

from adapters.bench.slack_api import RateLimitedSlack
from adapters.discord.config import point_discord_at
from adapters.discord.ratelimits import watch_discord_rate_limits
from adapters.ops.metrics import PrometheusTelemetry
from adapters.slack.ratelimits import ReportingRateLimitHandler
from tests.fakes.discord import FakeDiscord


def waited(metrics: PrometheusTelemetry, platform: str) -> tuple[float, float]:
    """(waits, seconds waited) recorded for a platform."""
    return (
        metrics.rate_limit_waits.labels(platform)._value.get(),
        metrics.rate_limit_seconds.labels(platform)._value.get(),
    )


async def test_a_slack_429_is_waited_out_and_reported() -> None:
    slack = RateLimitedSlack(channel_interval=1.0, retry_after=1)
    await slack.start()
    metrics = PrometheusTelemetry()
    client = AsyncWebClient(
        token="xoxb-t", base_url=slack.api_url, retry_handlers=[ReportingRateLimitHandler(metrics)]
    )
    try:
        await client.chat_postMessage(channel="C1", text="first")
        second = await client.chat_postMessage(channel="C1", text="second, too soon")
    finally:
        await slack.stop()

    assert second["ok"] and slack.rate_limited == 1
    waits, seconds = waited(metrics, "slack")
    assert waits == 1 and seconds >= 1.0


async def test_a_discord_429_is_waited_out_and_reported() -> None:
    fake = FakeDiscord()
    await fake.start()
    metrics = PrometheusTelemetry()
    stop_watching = watch_discord_rate_limits(metrics)
    client = discord.Client(intents=discord.Intents.none())
    try:
        point_discord_at(fake.api_url, fake.gateway_url)
        await client.login("discord.bot.token")
        fake.rate_limit("GET", r"/users/@me", retry_after=0.25)
        me = await client.http.request(Route("GET", "/users/@me"))
    finally:
        stop_watching()
        await client.close()
        await fake.stop()
        point_discord_at(None, None)

    assert me["username"] == "Paperboy"
    assert waited(metrics, "discord") == (1.0, 0.25)
