"""The real discord.py client, run by Paperboy's adapter against the fake Discord on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from adapters.discord.client import DiscordRunner, PaperboyDiscord, login_discord, serve_discord
from adapters.discord.config import point_discord_at
from adapters.settings import Settings
from adapters.sources.demo import load_demo_papers
from bot.core import Paperboy
from storage.search.index import TantivyIndex, open_index
from storage.sql import SqlStore, open_store
from tests.clock import FixedClock
from tests.conftest import copy_of_migrated_sqlite
from tests.fakes.discord import FORUM, FakeDiscord, InteractionRecord

# A Wednesday, so weekday digests are due.
TODAY = date(2026, 11, 25)


@dataclass
class World:
    """The fake Discord with one guild, a text channel, a second text channel and a forum."""

    fake: FakeDiscord
    guild: int
    channel: int
    other_channel: int
    forum: int


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    """A started fake Discord."""
    server = FakeDiscord()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
        point_discord_at(None, None)


@pytest.fixture
def world(fake: FakeDiscord) -> World:
    """One guild with two text channels and a forum."""
    guild = fake.add_guild("ML Reading Group")
    return World(
        fake,
        guild,
        fake.add_channel(guild, "papers"),
        fake.add_channel(guild, "general"),
        fake.add_channel(guild, "paper-forum", kind=FORUM),
    )


# The client each test core was built with (its publisher is the core's), waiting to be served.
_LOGGED_IN: dict[int, PaperboyDiscord] = {}


@asynccontextmanager
async def discord_core(fake: FakeDiscord, store: SqlStore, index: TantivyIndex) -> AsyncIterator[Paperboy]:
    """The core holding the demo papers, with a fixed clock, built in the composition root's order:
    the Discord client logs in first, and its publisher is the core's."""
    client = await login_discord(discord_settings(fake), store, guild_ready_timeout=0.05)
    app = Paperboy(
        store=store,
        index=index,
        clock=FixedClock(datetime(2026, 11, 25, 12, 0, tzinfo=UTC)),
        publishers={"discord": client.publisher},
    )
    _LOGGED_IN[id(app)] = client
    await app.ingest(load_demo_papers(TODAY))
    try:
        yield app
    finally:
        _LOGGED_IN.pop(id(app), None)
        await client.close()


@pytest.fixture
async def paperboy(tmp_path: Path, fake: FakeDiscord, migrated_sqlite: Path) -> AsyncIterator[Paperboy]:
    """The core on a fresh SQLite store and index (see `discord_core`)."""
    store = await open_store(copy_of_migrated_sqlite(migrated_sqlite, tmp_path / "paperboy.db"))
    index = await open_index(tmp_path / "index")
    try:
        async with discord_core(fake, store, index) as app:
            yield app
    finally:
        await index.close()
        await store.close()


def discord_settings(fake: FakeDiscord, **extra: object) -> Settings:
    """Settings that point the adapter at the fake (and read nothing from the environment)."""
    values: dict[str, object] = {
        "DISCORD_TOKEN": "fake-token",
        "DISCORD_API_URL": fake.api_url,
        "DISCORD_GATEWAY_URL": fake.gateway_url,
        **extra,
    }
    return Settings.model_validate({k: v for k, v in values.items() if v is not None})


class Watched:
    """Records calls to one async method and lets a test wait for the next."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self._changed = asyncio.Condition()

    async def record(self, args: tuple[Any, ...]) -> None:
        """Note one finished call."""
        async with self._changed:
            self.calls.append(args)
            self._changed.notify_all()

    async def called(self, times: int = 1, within: float = 5.0) -> list[tuple[Any, ...]]:
        """Wait until the method has finished `times` calls; return their arguments."""
        async with asyncio.timeout(within), self._changed:
            await self._changed.wait_for(lambda: len(self.calls) >= times)
        return self.calls


def watch(monkeypatch: pytest.MonkeyPatch, owner: object, name: str) -> Watched:
    """Wrap `owner.name` (an async method) so a test can wait until the bot has called it."""
    watched = Watched()
    original = getattr(owner, name)

    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        result = await original(*args, **kwargs)
        await watched.record(args)
        return result

    monkeypatch.setattr(owner, name, wrapper)
    return watched


StartBot = Callable[..., Awaitable[DiscordRunner]]


@pytest.fixture
async def start_bot(fake: FakeDiscord) -> AsyncIterator[StartBot]:
    """Start (and at the end stop) the Discord adapter; call it again to simulate a restart."""
    runners: list[DiscordRunner] = []

    async def start(app: Paperboy, **settings: object) -> DiscordRunner:
        client = None if settings else _LOGGED_IN.pop(id(app), None)
        if client is None:
            # A restart (or other settings): a new login, serving the same core and store.
            client = await login_discord(
                discord_settings(fake, **settings), app.store, guild_ready_timeout=0.05
            )
        runner = serve_discord(client, app)
        await runner.wait_until_ready(10)
        runners.append(runner)
        return runner

    try:
        yield start
    finally:
        for runner in runners:
            await runner.stop()


@pytest.fixture
async def bot(world: World, paperboy: Paperboy, start_bot: StartBot) -> DiscordRunner:
    """The adapter, connected and ready."""
    return await start_bot(paperboy)


async def press_on_a_card_after_a_restart(
    world: World, paperboy: Paperboy, start_bot: StartBot, custom_id: str, *, arxiv_id: str, user_id: int
) -> InteractionRecord:
    """Show a paper's card, restart the bot, then press `custom_id` on that card: buttons must outlive restarts."""
    first = await start_bot(paperboy)
    card = await world.fake.answered(await world.fake.slash(world.guild, world.channel, "paper", id=arxiv_id))
    await first.stop()
    await start_bot(paperboy)
    return await world.fake.press(world.guild, int(card["id"]), custom_id, user_id=user_id)
