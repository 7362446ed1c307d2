"""The core with real telemetry (metrics and event logs) on a fresh SQLite store, served over real HTTP."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import httpx
import pytest

from adapters.console.repl import ConsolePublisher
from adapters.ops.health import Readiness, add_health_routes, database_check
from adapters.ops.telemetry import Observability
from adapters.sources.demo import load_demo_papers
from adapters.web import WebServer, build_web_app
from bot.core import Paperboy
from storage.search.index import open_index
from storage.sql import open_store
from tests.clock import FixedClock
from tests.conftest import copy_of_migrated_sqlite

TODAY = date(2026, 11, 25)


@dataclass
class Served:
    """The core, its telemetry, its readiness checks and an HTTP client pointed at the served routes."""

    paperboy: Paperboy
    telemetry: Observability
    readiness: Readiness
    http: httpx.AsyncClient


@pytest.fixture
async def served(tmp_path: Path, migrated_sqlite: Path) -> AsyncIterator[Served]:
    """Paperboy holding the demo papers, with /healthz, /readyz and /metrics on a free loopback port."""
    telemetry = Observability()
    store = await open_store(copy_of_migrated_sqlite(migrated_sqlite, tmp_path / "paperboy.db"))
    index = await open_index(tmp_path / "index")
    paperboy = Paperboy(
        store=store,
        index=index,
        clock=FixedClock.noon(TODAY),
        telemetry=telemetry,
        publishers={"console": ConsolePublisher(io.StringIO())},
    )
    await paperboy.ingest(load_demo_papers(TODAY), source="demo")
    app = build_web_app()
    readiness = Readiness()
    readiness.add("database", database_check(store.engine))
    add_health_routes(app, readiness, telemetry.metrics)
    server = WebServer(app, "127.0.0.1", 0)
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}", timeout=10) as http:
            yield Served(paperboy, telemetry, readiness, http)
    finally:
        await server.stop()
        await index.close()
        await store.close()
