"""The core wired to the real SQL store (SQLite and PostgreSQL) and a real index, with a clock the test controls."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from adapters.sources.demo import load_demo_papers
from bot.core import Paperboy
from storage.search.index import open_index
from storage.sql import SqlStore
from tests.clock import FixedClock

DEMO_DAY = date(2026, 11, 26)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 11, 26, 12, 0, tzinfo=UTC))


@pytest.fixture
async def paperboy(store: SqlStore, tmp_path: Path, clock: FixedClock) -> AsyncIterator[Paperboy]:
    index = await open_index(tmp_path / "index")
    app = Paperboy(store=store, index=index, clock=clock)
    await app.ingest(load_demo_papers(DEMO_DAY))
    try:
        yield app
    finally:
        await index.close()
