"""Fixtures every test may use: a database on SQLite and on PostgreSQL, and a migrated store opened on it."""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
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


async def empty_postgres(url: str) -> None:
    """Empty our tables and drop any other: a migrated, empty database with exactly the migrated schema."""
    # Other tables: e.g. Slack's installation tables, which slack_sdk creates itself.
    from storage.sql.tables import metadata

    conn = await asyncpg.connect(url, timeout=5)
    try:
        rows = await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
        )
        present = {row["tablename"] for row in rows}
        foreign = sorted(present - set(metadata.tables))
        if foreign:
            await conn.execute("DROP TABLE " + ", ".join(f'"{name}"' for name in foreign) + " CASCADE")
        # DELETE, children before parents, rather than TRUNCATE: TRUNCATE gives each table a new file, about
        # 0.3 s for our tables before every PostgreSQL test; deleting the few rows a test wrote takes
        # milliseconds. The sequences start again as TRUNCATE ... RESTART IDENTITY would make them.
        ours = [table.name for table in reversed(metadata.sorted_tables) if table.name in present]
        sequences = await conn.fetch("SELECT sequencename FROM pg_sequences WHERE schemaname = 'public'")
        statements = [f'DELETE FROM "{name}"' for name in ours]
        statements += [f'ALTER SEQUENCE "{row["sequencename"]}" RESTART' for row in sequences]
        if statements:
            async with conn.transaction():
                await conn.execute("; ".join(statements))
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[PostgresDatabase]:
    """A fresh database per session and xdist worker; skipped if the server is down, unless CI requires it."""
    # The worker in the name says whose a leftover database was; the random part keeps parallel sessions
    # (two engineers, or CI beside a developer) apart on the one server.
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    name = f"paperboy_test_{worker}_{secrets.token_hex(6)}"
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


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to the newest revision, made once per session and worker, to copy."""
    path = tmp_path_factory.mktemp("migrated") / "paperboy.db"

    async def migrate() -> None:
        opened = await open_store(f"sqlite:///{path}")
        await opened.close()

    asyncio.run(migrate())
    # Closed cleanly, WAL mode leaves no side file: the one file is the whole database.
    leftovers = sorted(p.name for p in path.parent.iterdir() if p != path)
    assert leftovers == [], f"the migrated SQLite template left {leftovers} beside it"
    return path


def copy_of_migrated_sqlite(template: Path, target: Path) -> str:
    """The URL of `target`, a copy of the migrated template: an empty, up-to-date database."""
    # Migrating a new file costs about half a second (Alembic and every revision), a copy milliseconds. The
    # PostgreSQL tests get an already migrated database too (from the session's first test on), so a test
    # that needs a never-migrated file makes its own.
    shutil.copyfile(template, target)
    return f"sqlite:///{target}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database: SQLite (a copy of the template), PostgreSQL (its tables emptied)."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("migrated_sqlite")
        return copy_of_migrated_sqlite(template, tmp_path / "paperboy.db")
    database: PostgresDatabase = request.getfixturevalue("postgres_database")
    asyncio.run(empty_postgres(database.url))
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
