"""The issue's acceptance scenario: the real `paperboy run` process serving Slack against the fake Slack."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fakes.slack import FakeSlack, command_body, event_body, signed_headers
from tests.slack.conftest import FORM, SECRET, block_text

PAPERBOY = str(Path(sys.executable).with_name("paperboy"))
pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def environment(tmp_path: Path, fake: FakeSlack, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DISCORD_", "PAPERBOY_"))}
    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens: the paper sources fail harmlessly offline
    env.update(
        {
            "DATABASE_URL": f"sqlite:///{tmp_path / 'paperboy.db'}",
            "SLACK_BOT_TOKEN": "xoxb-team-one",
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": fake.api_url,
            "PAPERBOY_PORT": str(port),
            "PAPERBOY_REFRESH_MINUTES": "0",
            "HF_API_URL": closed,
            "ARXIV_API_URL": closed,
        }
    )
    return env


async def cli(env: dict[str, str], cwd: Path, *args: str) -> str:
    process = await asyncio.create_subprocess_exec(
        PAPERBOY, *args, env=env, cwd=cwd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 0, err.decode()
    return out.decode()


@pytest.fixture
async def running(tmp_path: Path, fake_slack: FakeSlack) -> AsyncIterator[tuple[str, dict[str, str]]]:
    """`paperboy run` with the demo papers, serving Slack on a free port; yields its events URL and env."""
    port = free_port()
    env = environment(tmp_path, fake_slack, port)
    await cli(env, tmp_path, "ingest", "demo")
    process = await asyncio.create_subprocess_exec(
        PAPERBOY,
        "run",
        env=env,
        cwd=tmp_path,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                _reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.close()
                break
            except OSError:
                if process.returncode is not None or time.monotonic() > deadline:
                    raise AssertionError("paperboy run did not start serving") from None
                await asyncio.sleep(0.1)
        yield f"http://127.0.0.1:{port}/slack/events", env
    finally:
        if process.returncode is None:
            process.terminate()
            await asyncio.wait_for(process.wait(), timeout=30)


async def test_search_digest_and_a_reaction_vote_through_paperboy_run(
    running: tuple[str, dict[str, str]], fake_slack: FakeSlack, tmp_path: Path
) -> None:
    url, env = running
    async with httpx.AsyncClient(timeout=30) as http:

        async def command(text: str, name: str) -> dict[str, Any]:
            body = command_body(
                text, team="T1", channel="C1", user="U1", response_url=fake_slack.response_url(name)
            )
            response = await http.post(url, content=body, headers=signed_headers(SECRET, body, FORM))
            assert response.status_code == 200
            found = await fake_slack.wait_for(
                lambda: [r for r in fake_slack.responses if r["_name"] == name], 30
            )
            return found[-1]

        card = await command("search matryoshka", "search")
        assert "Matryoshka Representation Learning" in block_text(card)

        await command("subscribe matryoshka", "subscribe")
        posted = await command("digest", "digest")
        assert "Posted the digest" in block_text(posted)
        messages = fake_slack.posted("C1")
        parent, replies = messages[0], messages[1:]
        assert replies and all(r.args["thread_ts"] == parent.args["_ts"] for r in replies)
        reply = next(r for r in replies if r.args["metadata"]["event_payload"]["arxiv_id"] == "2205.13147")

        event = {
            "type": "reaction_added",
            "user": "U1",
            "reaction": "+1",
            "item_user": "UBOT",
            "item": {"type": "message", "channel": "C1", "ts": reply.args["_ts"]},
            "event_ts": "1700000300.000100",
        }
        body = event_body(event, team="T1", event_id="EvAccept")
        response = await http.post(
            url, content=body, headers=signed_headers(SECRET, body, "application/json")
        )
        assert response.status_code == 200

        trending = await command("trending", "trending")
        assert "1 vote here" in block_text(trending)
    shown = json.loads(await cli(env, tmp_path, "paper", "2205.13147", "--json"))
    assert shown["chat_votes"] == 1
    assert fake_slack.violations == []
