"""The composition root: every part a process needs, built once from `Settings`, in dependency order.

Store and index first, then the platforms' posting clients (their publishers are the core's), the delivery
engine, and the core with all of them. Nothing is assigned into the core afterwards: `paperboy run` serves
the platforms with the finished core (adapters/app/runner.py), the command line uses it as it is.
Platform SDKs are imported only when their platform is configured, so the command line starts fast.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from adapters.app.delivery import DeliverySettings, local_worker_alive, worker_id
from adapters.ops.telemetry import Observability
from adapters.settings import Settings
from bot.core import Paperboy
from bot.ports import Clock, Telemetry
from bot.services.delivery import DeliveryEngine
from bot.services.digests import DigestPublisher
from storage.search.index import TantivyIndex, open_index
from storage.sql import SqlStore, open_store, sqlite_path
from storage.vectors.semantic import open_semantic

if TYPE_CHECKING:
    from adapters.discord.client import PaperboyDiscord
    from adapters.slack.connection import SlackConnection
    from adapters.sources.lookup import ArxivPaperSource


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        """The current UTC time."""
        return datetime.now(UTC)


@dataclass(frozen=True)
class House:
    """Everything one process was built with: the core and the parts the runner and jobs still need."""

    settings: Settings
    store: SqlStore
    index: TantivyIndex
    telemetry: Telemetry
    delivery: DeliverySettings
    engine: DeliveryEngine
    core: Paperboy
    slack: SlackConnection | None = None
    discord: PaperboyDiscord | None = None


def index_dir_for(settings: Settings) -> Path:
    """Where this replica keeps its search index: beside a SQLite file, or a per-database folder."""
    if settings.index_dir is not None:
        return settings.index_dir
    db_file = sqlite_path(settings.database_url)
    if db_file is not None:
        return db_file.with_name(db_file.name + ".index")
    digest = hashlib.sha256(settings.database_url.encode()).hexdigest()[:12]
    return Path(".paperboy-index") / digest


@asynccontextmanager
async def compose(
    settings: Settings,
    *,
    platforms: bool = False,
    console: TextIO | None = None,
    telemetry: Telemetry | None = None,
    clock: Clock | None = None,
    migrate: bool = True,
    catch_up: bool = True,
) -> AsyncIterator[House]:
    """Build every part of a process and close them all on exit.

    `platforms`: log in to each configured chat platform, so that the core can post there (digests, shares);
    `paperboy run` then serves them. `console`: digests for console channels are printed there.
    `catch_up=False` leaves the index's start-up catch-up to the background (`paperboy run` serving chat
    platforms must answer at once); one-shot commands wait for it, so that they answer from everything stored.
    """
    async with AsyncExitStack() as stack:
        store = await open_store(settings.database_url, migrate=migrate)
        stack.push_async_callback(store.close)
        index = await open_index(index_dir_for(settings))
        stack.push_async_callback(index.close)
        if catch_up:
            await index.catch_up(store)
        telemetry = telemetry or Observability()
        # None without the semantic extra (said once in the log); the model loads on first use.
        semantic = open_semantic(store, settings.semantic_model, topic_similarity=settings.topic_similarity)
        publishers: dict[str, DigestPublisher] = {}
        if console is not None:
            from adapters.console.repl import ConsolePublisher

            publishers["console"] = ConsolePublisher(console)
        slack = discord = None
        if platforms and settings.has_slack:
            slack = await _connect_slack(settings, store, telemetry)
            stack.push_async_callback(slack.close)
            publishers["slack"] = slack.publisher
        if platforms and settings.has_discord:
            from adapters.discord.client import login_discord

            discord = await login_discord(settings, store)
            stack.push_async_callback(discord.close)
            publishers["discord"] = discord.publisher
        source = None
        if platforms and (settings.has_slack or settings.has_discord):
            # Chat links to a paper the store lacks (Slack unfurls, Discord's Paper card) fetch it from arXiv.
            source = _paper_source(settings)
            stack.push_async_callback(source.aclose)
        clock = clock or SystemClock()
        delivery = DeliverySettings.from_settings(settings)
        engine = DeliveryEngine(
            store,
            worker=worker_id(),
            policy=delivery.policy(),
            clock=clock,
            telemetry=telemetry,
            worker_alive=local_worker_alive,
        )
        core = Paperboy(
            store, index, clock, telemetry, semantic, publishers=publishers, engine=engine, source=source
        )
        yield House(settings, store, index, telemetry, delivery, engine, core, slack, discord)


def _paper_source(settings: Settings) -> ArxivPaperSource:
    """arXiv's API with the sources' deadline and size cap, as the core's PaperSource."""
    from adapters.sources.arxiv import ArxivClient
    from adapters.sources.http import RetryPolicy
    from adapters.sources.lookup import ArxivPaperSource

    policy = RetryPolicy.from_settings(settings)
    return ArxivPaperSource(
        ArxivClient(settings.arxiv_api_url, contact=settings.contact_email, policy=policy)
    )


async def _connect_slack(settings: Settings, store: SqlStore, telemetry: Telemetry) -> SlackConnection:
    from adapters.slack.config import SlackConfig
    from adapters.slack.connection import connect_slack

    config = SlackConfig.from_settings(settings)
    # Many workspaces: their installations live in Paperboy's own database, on the store's engine.
    engine = store.engine if config.uses_oauth and not config.socket_mode else None
    # The store is the Slack publisher's address book: people's D… conversations outlive this process.
    return await connect_slack(config, telemetry, engine=engine, addresses=store)


@asynccontextmanager
async def paperboy_app(
    settings: Settings,
    *,
    migrate: bool = True,
    telemetry: Telemetry | None = None,
    catch_up: bool = True,
    console: TextIO | None = None,
) -> AsyncIterator[Paperboy]:
    """The core alone, for one-shot commands that post nowhere but (with `console`) to the terminal."""
    async with compose(
        settings, migrate=migrate, telemetry=telemetry, catch_up=catch_up, console=console
    ) as house:
        yield house.core
