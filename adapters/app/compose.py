"""The one place that wires the core to its store, index and clock; nothing happens at import time."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

from adapters.app.settings import Settings
from adapters.ops.telemetry import Observability
from bot.core import Paperboy
from bot.ports import Telemetry
from storage.search.index import open_index
from storage.sql import open_store, sqlite_path
from storage.vectors.semantic import open_semantic


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        """The current UTC time."""
        return datetime.now(UTC)


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
async def paperboy_app(
    settings: Settings,
    *,
    migrate: bool = True,
    telemetry: Telemetry | None = None,
    catch_up: bool = True,
) -> AsyncIterator[Paperboy]:
    """Open the store (migrated) and the index (caught up unless `catch_up` is False), and yield the wired core.

    `telemetry` receives what the core does (default: fresh metrics and event logs of this process).
    `paperboy run` passes catch_up=False and catches up in the background, so that a large catch-up never
    delays serving; one-shot commands wait for it, so that they answer from everything stored.
    """
    store = await open_store(settings.database_url, migrate=migrate)
    try:
        index = await open_index(index_dir_for(settings))
        try:
            if catch_up:
                await index.catch_up(store)
            telemetry = telemetry or Observability()
            # None without the semantic extra (said once in the log); the model loads on first use.
            semantic = open_semantic(
                store, settings.semantic_model, topic_similarity=settings.topic_similarity
            )
            yield Paperboy(
                store=store, index=index, clock=SystemClock(), telemetry=telemetry, semantic=semantic
            )
        finally:
            await index.close()
    finally:
        await store.close()
