"""The real `paperboy run` process against loopback fakes of Slack and Discord: health, readiness and metrics over
HTTP, JSON logs on stderr, and SIGTERM: exit 0 within 10 s, a digest interrupted mid-way neither lost nor doubled."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from adapters.bench.slack_api import RateLimitedSlack
from adapters.sources.demo import load_demo_papers
from bot.domain import ChannelRef, ChannelSettings
from storage.sql import open_store
from tests.fakes.discord import FakeDiscord
from tests.fakes.slack import FakeSlack, command_body, signed_headers
from tests.processes import PAPERBOY, Running, free_port, start_paperboy

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
SLACK_TOKEN = "xoxb-team-one-secret-token"
DISCORD_TOKEN = "discord.bot.secret-token"
FORM = "application/x-www-form-urlencoded"
pytestmark = pytest.mark.slow


def base_environment(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DISCORD_", "PAPERBOY_"))}
    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens: the paper sources stay offline
    env.update(
        {
            "DATABASE_URL": f"sqlite:///{tmp_path / 'paperboy.db'}",
            "PAPERBOY_PORT": str(free_port()),
            "PAPERBOY_REFRESH_MINUTES": "0",
            "HF_API_URL": closed,
            "ARXIV_API_URL": closed,
        }
    )
    return env


async def demo_store(url: str, *scheduled: ChannelRef) -> None:
    """The demo papers, featured today, and the given channels due a digest now."""
    store = await open_store(url)
    try:
        await store.upsert_papers(load_demo_papers(datetime.now(UTC).date()))
        for channel in scheduled:
            await store.save_settings(
                ChannelSettings(channel, hour=0, minute=0, timezone="UTC", weekdays_only=False, digest_size=5)
            )
    finally:
        await store.close()


@pytest.fixture
async def fake_slack() -> AsyncIterator[FakeSlack]:
    fake = FakeSlack()
    fake.add_team("T1", SLACK_TOKEN)
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()


@pytest.fixture
async def fake_discord() -> AsyncIterator[FakeDiscord]:
    fake = FakeDiscord()
    guild = fake.add_guild("Reading Group")
    fake.add_channel(guild, "papers")
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()


async def test_a_serving_process_is_healthy_ready_measured_and_logged_then_exits_zero_on_sigterm(
    tmp_path: Path, fake_slack: FakeSlack, fake_discord: FakeDiscord
) -> None:
    env = base_environment(tmp_path)
    await demo_store(env["DATABASE_URL"])
    env = {
        **base_environment(tmp_path),
        "SLACK_BOT_TOKEN": SLACK_TOKEN,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": fake_slack.api_url,
        "DISCORD_TOKEN": DISCORD_TOKEN,
        "DISCORD_API_URL": fake_discord.api_url,
        "DISCORD_GATEWAY_URL": fake_discord.gateway_url,
    }
    running = await start_paperboy(tmp_path, env)
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            ready = await running.wait_ready(http)
            health = await http.get(running.url("/healthz"))
            body = command_body(
                "search matryoshka",
                team="T1",
                channel="C1",
                user="U1",
                response_url=fake_slack.response_url("s"),
            )
            answered = await http.post(
                running.url("/slack/events"), content=body, headers=signed_headers(SECRET, body, FORM)
            )
            await fake_slack.wait_for(lambda: [r for r in fake_slack.responses if r["_name"] == "s"], 30)
            metrics = (await http.get(running.url("/metrics"))).text
        code, seconds = await running.terminate()
    finally:
        await running.kill()
    print(f"paperboy run (Slack and Discord) exited {code} {seconds:.2f} s after SIGTERM")

    assert ready == {"status": "ready", "checks": {"database": "ok", "slack": "ok", "discord": "ok"}}
    assert health.status_code == 200 and answered.status_code == 200
    assert 'paperboy_commands_total{command="search",outcome="ok",platform="slack"} 1.0' in metrics
    assert code == 0
    [event] = running.events("command")
    assert {k: event[k] for k in ("platform", "workspace", "channel", "command", "outcome")} == {
        "platform": "slack",
        "workspace": "T1",
        "channel": "C1",
        "command": "search",
        "outcome": "ok",
    }
    log = "".join(running.stderr)
    assert SLACK_TOKEN not in log and DISCORD_TOKEN not in log and SECRET not in log


async def test_sigterm_during_a_digest_loses_and_doubles_nothing(tmp_path: Path, database_url: str) -> None:
    slack = RateLimitedSlack(channel_interval=1.0)
    started = asyncio.Event()  # the parent and a first paper are in: the digest is under way
    slack.on_accept = lambda message, total: started.set() if len(slack.in_channel("C1")) >= 2 else None
    await slack.start()
    await demo_store(database_url, ChannelRef("slack", "T1", "C1"))
    env = {
        **base_environment(tmp_path),
        "DATABASE_URL": database_url,
        "SLACK_BOT_TOKEN": SLACK_TOKEN,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": slack.api_url,
        "PAPERBOY_SLACK_POST_INTERVAL": "1",
    }
    try:
        running = await start_paperboy(tmp_path, env)
        try:
            under_way = asyncio.ensure_future(started.wait())
            exited = asyncio.ensure_future(running.process.wait())
            await asyncio.wait({under_way, exited}, timeout=60, return_when=asyncio.FIRST_COMPLETED)
            under_way.cancel()
            exited.cancel()
            assert started.is_set(), "the digest never started:\n" + "".join(running.stderr)[-4000:]
            code, seconds = await running.terminate()
        finally:
            await running.kill()
        posted_before = len(slack.in_channel("C1"))
        backend = database_url.split(":")[0]
        print(
            f"SIGTERM mid-digest on {backend}: exit {code} after {seconds:.2f} s, {posted_before} of 6 posted"
        )

        # The next run finishes what the stopped one handed back.
        finish = await start_paperboy(tmp_path, env, "digest", "--due")
        try:
            finished = await asyncio.wait_for(finish.process.wait(), timeout=120)
        finally:
            await finish.kill()
        audit = slack.audit({"C1": 5})
    finally:
        await slack.stop()

    assert code == 0
    assert posted_before < 6, "SIGTERM came after the whole digest: the test proved nothing"
    assert finished == 0, "".join(finish.stderr)[-4000:]
    assert audit["problems"] == []
    assert audit["messages"] == 6


async def test_without_a_chat_platform_health_is_served_when_asked_and_sigterm_still_exits_zero(
    tmp_path: Path,
) -> None:
    env = {**base_environment(tmp_path), "PAPERBOY_SERVE_HTTP": "true"}
    await demo_store(env["DATABASE_URL"])
    process = await asyncio.create_subprocess_exec(
        PAPERBOY,
        "run",
        env=env,
        cwd=tmp_path,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    running = Running(process, int(env["PAPERBOY_PORT"]))
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            ready = await running.wait_ready(http)  # the console waits on stdin, kept open
            health = await http.get(running.url("/healthz"))
        code, _seconds = await running.terminate()
    finally:
        await running.kill()

    assert ready == {"status": "ready", "checks": {"database": "ok"}}
    assert health.json() == {"status": "ok"}
    assert code == 0
