"""Paperboy's Slack adapter served through its real HTTP server, talking to a fake Slack on loopback."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from adapters.slack.bot import SlackService, serve_slack
from adapters.slack.config import SlackConfig
from adapters.slack.connection import SlackConnection, connect_slack
from adapters.sources.demo import load_demo_papers
from bot.core import Paperboy
from storage.search.index import open_index
from storage.sql import SqlStore
from tests.clock import FixedClock
from tests.fakes.slack import (
    FakeSlack,
    action_body,
    command_body,
    event_body,
    signed_headers,
    view_action_body,
)

Checked = TypeVar("Checked")

DEMO_DAY = date(2026, 11, 26)
SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
FORM = "application/x-www-form-urlencoded"


@dataclass
class SlackHarness:
    """The running app, the fake Slack it talks to, and helpers that send signed requests as Slack would."""

    fake: FakeSlack
    service: SlackService
    paperboy: Paperboy
    http: httpx.AsyncClient
    secret: str = SECRET
    _names: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def events_url(self) -> str:
        """Where Slack sends commands, actions and events."""
        return f"http://127.0.0.1:{self.service.port}/slack/events"

    async def send(self, body: bytes, content_type: str, **headers: str) -> httpx.Response:
        """POST a body signed with the app's signing secret (extra headers as given)."""
        signed = signed_headers(self.secret, body, content_type)
        signed.update({k.replace("_", "-"): v for k, v in headers.items()})
        return await self.http.post(self.events_url, content=body, headers=signed)

    async def command(
        self, text: str, *, team: str = "T1", channel: str = "C1", user: str = "U1"
    ) -> dict[str, Any]:
        """Run a /papers line; assert the immediate ack, then return the answer sent to the response_url."""
        name = f"cmd{next(self._names)}"
        url = self.fake.response_url(name)
        body = command_body(text, team=team, channel=channel, user=user, response_url=url)
        response = await self.send(body, FORM)
        assert response.status_code == 200, response.text
        return await self.answer(name)

    async def answer(self, name: str) -> dict[str, Any]:
        """The message that arrived at the response_url called `name`."""
        found = await self.fake.wait_for(lambda: [r for r in self.fake.responses if r["_name"] == name])
        return found[-1]

    async def click(
        self,
        action_id: str,
        value: str,
        *,
        team: str = "T1",
        channel: str = "C1",
        user: str = "U1",
        action_ts: str | None = None,
        message_ts: str = "1700000000.000001",
    ) -> str:
        """Click a button; return the name of the response_url the app may answer on."""
        number = next(self._names)
        name = f"act{number}"
        body = action_body(
            action_id,
            value,
            team=team,
            channel=channel,
            user=user,
            response_url=self.fake.response_url(name),
            action_ts=action_ts or f"1700000100.{number:06d}",
            message_ts=message_ts,
        )
        response = await self.send(body, FORM)
        assert response.status_code == 200, response.text
        return name

    async def home_click(
        self, action_id: str, value: str, *, team: str = "T1", user: str = "U1", action_ts: str | None = None
    ) -> None:
        """Press a button in a person's App Home (a view: no channel, no response_url)."""
        number = next(self._names)
        body = view_action_body(
            action_id, value, team=team, user=user, action_ts=action_ts or f"1700000300.{number:06d}"
        )
        response = await self.send(body, FORM)
        assert response.status_code == 200, response.text

    async def open_home(self, *, user: str = "U1", team: str = "T1", tab: str = "home") -> httpx.Response:
        """A person opens the app (its Home tab, or its Messages tab), as `app_home_opened` tells it."""
        number = next(self._names)
        event = {
            "type": "app_home_opened",
            "user": user,
            "channel": self.fake.open_dm(user, team),
            "tab": tab,
            "event_ts": f"1700000400.{number:06d}",
        }
        response = await self.event(event, team=team, event_id=f"EvHome{number}")
        assert response.status_code == 200, response.text
        return response

    async def event(
        self, event: dict[str, Any], *, team: str = "T1", event_id: str, **headers: str
    ) -> httpx.Response:
        """Deliver one Events API event."""
        return await self.send(event_body(event, team=team, event_id=event_id), "application/json", **headers)

    async def react(
        self,
        ts: str,
        *,
        added: bool = True,
        reaction: str = "+1",
        user: str = "U1",
        channel: str = "C1",
        team: str = "T1",
        event_id: str,
        **headers: str,
    ) -> httpx.Response:
        """A reaction_added / reaction_removed event on a message."""
        event = {
            "type": "reaction_added" if added else "reaction_removed",
            "user": user,
            "reaction": reaction,
            "item_user": "UBOT",
            "item": {"type": "message", "channel": channel, "ts": ts},
            "event_ts": "1700000200.000100",
        }
        response = await self.event(event, team=team, event_id=event_id, **headers)
        assert response.status_code == 200, response.text
        return response


async def eventually(check: Callable[[], Awaitable[Checked]], within: float = 10.0) -> Checked:
    """Wait until an async check returns something truthy (background work done); fail after `within` s."""
    deadline = time.monotonic() + within
    while not (value := await check()):
        if time.monotonic() > deadline:
            raise AssertionError("the condition never became true")
        await asyncio.sleep(0.02)
    return value


def block_text(message: dict[str, Any]) -> str:
    """Every text in a message's blocks, joined: what a person would read."""
    blocks = message.get("blocks") or []
    if isinstance(blocks, str):
        blocks = json.loads(blocks)
    parts: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("text"), str):
                parts.append(node["text"])
            for value in node.values():
                if isinstance(value, dict | list):
                    walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(blocks)
    return "\n".join(parts)


def buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    """Every button in a message."""
    blocks = message.get("blocks") or []
    if isinstance(blocks, str):
        blocks = json.loads(blocks)
    found = [e for b in blocks if b.get("type") == "actions" for e in b["elements"]]
    found += [b["accessory"] for b in blocks if b.get("accessory", {}).get("type") == "button"]
    return found


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 11, 26, 12, 0, tzinfo=UTC))


@pytest.fixture
async def fake_slack() -> AsyncIterator[FakeSlack]:
    fake = FakeSlack()
    fake.add_team("T1", "xoxb-team-one", bot_user="UBOT")
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()


@pytest.fixture
async def paperboy(store: SqlStore, tmp_path: Path, clock: FixedClock) -> AsyncIterator[Paperboy]:
    index = await open_index(tmp_path / "index")
    app = Paperboy(store=store, index=index, clock=clock)
    await app.ingest(load_demo_papers(DEMO_DAY))
    try:
        yield app
    finally:
        await index.close()


@pytest.fixture
def slack_config(fake_slack: FakeSlack) -> SlackConfig:
    """One workspace by bot token, posting without the one-second pacing so tests run quickly."""
    return SlackConfig(
        signing_secret=SECRET,
        bot_token="xoxb-team-one",
        api_url=fake_slack.api_url,
        host="127.0.0.1",
        port=0,
        post_interval=0.0,
    )


StartSlack = Callable[..., Awaitable["SlackHarness"]]


@pytest.fixture
async def start(
    fake_slack: FakeSlack, paperboy: Paperboy, store: SqlStore, database_url: str, slack_config: SlackConfig
) -> AsyncIterator[StartSlack]:
    """Start the Slack adapter (config overrides as keywords) and stop it after the test."""
    running: list[SlackService] = []
    connections: list[SlackConnection] = []
    clients: list[httpx.AsyncClient] = []
    # One count for every harness on the fake: the response_url names of two (a restart) never meet.
    names = itertools.count(1)

    async def starter(**overrides: Any) -> SlackHarness:
        config = replace(slack_config, **overrides)
        # In the composition root's order: Slack's connection first, then a core that posts through it.
        engine = store.engine if config.uses_oauth else None  # the store the core keeps
        # The store keeps people's D… conversations, as the composition root has it.
        connection = await connect_slack(config, paperboy.telemetry, engine=engine, addresses=store)
        connections.append(connection)
        core = Paperboy(
            paperboy.store,
            paperboy.index,
            paperboy.clock,
            paperboy.telemetry,
            paperboy.semantic,
            publishers={"slack": connection.publisher},
        )
        service = await serve_slack(core, connection)
        running.append(service)
        http = httpx.AsyncClient(timeout=30)
        clients.append(http)
        return SlackHarness(fake_slack, service, core, http, _names=names)

    try:
        yield starter
    finally:
        for http in clients:
            await http.aclose()
        for service in running:
            await service.stop()
        for connection in connections:
            await connection.close()


@pytest.fixture
async def slack(start: StartSlack) -> SlackHarness:
    """The adapter for one workspace (T1, token xoxb-team-one)."""
    harness: SlackHarness = await start()
    return harness
