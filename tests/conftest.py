"""Fixtures every test may use: a database on SQLite and on PostgreSQL, and a migrated store opened on it."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest

from storage.sql import SqlStore, open_store

# The server the PostgreSQL tests run on; each test session makes a database of its own there.
POSTGRES_SERVER = os.environ.get("PAPERBOY_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
REQUIRE_POSTGRES = os.environ.get("PAPERBOY_REQUIRE_POSTGRES") == "1"
# In CI the search-by-meaning tests must run: a missing semantic extra fails them instead of skipping.
REQUIRE_SEMANTIC = os.environ.get("PAPERBOY_REQUIRE_SEMANTIC") == "1"
# Loading the embedding model costs seconds per process; only the tests about meaning turn it on (they pass
# the model themselves), so every other test, and every `paperboy` subprocess a test starts, stays lexical.
os.environ.setdefault("PAPERBOY_SEMANTIC_MODEL", "off")


@dataclass(frozen=True)
class PostgresDatabase:
    """A throwaway database on the test server."""

    name: str
    url: str


def _database_url(name: str) -> str:
    """The URL of database `name` on the test server."""
    base, _, _ = POSTGRES_SERVER.rpartition("/")
    return f"{base}/{name}"


async def _create_database(name: str) -> None:
    """CREATE DATABASE on the test server."""
    conn = await asyncpg.connect(POSTGRES_SERVER, timeout=5)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def _drop_database(name: str) -> None:
    """DROP DATABASE, closing whatever connection a failed test left open."""
    conn = await asyncpg.connect(POSTGRES_SERVER, timeout=5)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def _empty_tables(url: str) -> None:
    """Truncate our tables and drop any other (e.g. Slack's installation tables, which slack_sdk creates
    itself), so each test starts from a migrated, empty database that has exactly the migrated schema."""
    from storage.sql.tables import metadata

    conn = await asyncpg.connect(url, timeout=5)
    try:
        rows = await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
        )
        names = [row["tablename"] for row in rows]
        foreign = [name for name in names if name not in metadata.tables]
        if foreign:
            await conn.execute("DROP TABLE " + ", ".join(f'"{name}"' for name in foreign) + " CASCADE")
        ours = [name for name in names if name in metadata.tables]
        if ours:
            tables = ", ".join(f'"{name}"' for name in ours)
            await conn.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[PostgresDatabase]:
    """One fresh database for the session; skipped when the server is down, unless CI requires it."""
    name = f"paperboy_test_{secrets.token_hex(6)}"
    try:
        asyncio.run(_create_database(name))
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        reason = f"PostgreSQL at {POSTGRES_SERVER} is unreachable: {exc}"
        if REQUIRE_POSTGRES:
            pytest.fail(f"{reason} (PAPERBOY_REQUIRE_POSTGRES=1 makes the PostgreSQL tests mandatory)")
        pytest.skip(reason)
    try:
        yield PostgresDatabase(name, _database_url(name))
    finally:
        asyncio.run(_drop_database(name))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An ordinary database URL, once for SQLite (a fresh file) and once for PostgreSQL (emptied tables)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'paperboy.db'}"
    database: PostgresDatabase = request.getfixturevalue("postgres_database")
    asyncio.run(_empty_tables(database.url))
    return database.url


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[SqlStore]:
    """A migrated store on `database_url`, closed after the test."""
    opened = await open_store(database_url)
    try:
        yield opened
    finally:
        await opened.close()


def skip_without_semantic_extra(missing: str | None) -> None:
    """Skip a test that needs the semantic extra when it is missing, or fail it where CI requires the extra."""
    if missing is None:
        return
    reason = f"the semantic extra is not installed (no {missing}); pip install -e '.[semantic]' runs this"
    if REQUIRE_SEMANTIC:
        pytest.fail(f"{reason} (PAPERBOY_REQUIRE_SEMANTIC=1 makes the semantic tests mandatory)")
    pytest.skip(reason)
