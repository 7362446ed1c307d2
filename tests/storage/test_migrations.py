"""The Alembic migrations on SQLite and PostgreSQL: they build exactly the tables the code uses, both ways."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, inspect

from storage.sql.engine import StoreError, create_engine_for
from storage.sql.migrate import (
    SHIPPED_HEAD,
    current_revision,
    downgrade_database,
    head_revision,
    upgrade_database,
)
from storage.sql.store import open_store
from storage.sql.tables import metadata

TABLES = {
    "papers",
    "channel_settings",
    "topics",
    "votes",
    "digests",
    "deliveries",
    "paper_messages",
    "paper_embeddings",
    "slack_installations",
    "slack_bots",
    "slack_oauth_states",
    "event_keys",
    "leases",
}
HEAD = head_revision()


def _differences(connection: Connection) -> list[object]:
    """What autogenerate would change to make the database match the tables of the code."""
    return list(
        compare_metadata(MigrationContext.configure(connection, opts={"compare_type": True}), metadata)
    )


def _table_names(connection: Connection) -> set[str]:
    """Tables in the database, Alembic's own aside."""
    return set(inspect(connection).get_table_names()) - {"alembic_version"}


async def _inspect(url: str) -> tuple[set[str], list[object], str | None]:
    """Tables, differences from the code, and the revision of the database at `url`."""
    engine = create_engine_for(url)
    try:
        async with engine.connect() as conn:
            names = await conn.run_sync(_table_names)
            differences = await conn.run_sync(_differences)
        return names, differences, await current_revision(engine)
    finally:
        await engine.dispose()


async def test_the_migrated_schema_is_exactly_the_tables_of_the_code(database_url: str) -> None:
    await upgrade_database(database_url)

    names, differences, revision = await _inspect(database_url)

    assert names == TABLES
    assert differences == []
    assert revision == HEAD == "0008"


async def test_downgrade_removes_every_table_and_upgrade_brings_them_back(database_url: str) -> None:
    await upgrade_database(database_url)

    await downgrade_database(database_url, "base")
    after_downgrade = await _inspect(database_url)
    await upgrade_database(database_url)
    after_upgrade = await _inspect(database_url)

    assert after_downgrade[0] == set() and after_downgrade[2] is None
    assert after_upgrade[0] == TABLES and after_upgrade[1] == []


async def test_a_store_opened_without_migrating_refuses_an_old_schema(database_url: str) -> None:
    await downgrade_database(database_url, "base")
    try:
        with pytest.raises(
            StoreError, match=rf"is at migration none, not {HEAD}; run `paperboy db upgrade`\.$"
        ):
            await open_store(database_url, migrate=False)
    finally:
        await upgrade_database(database_url)

    store = await open_store(database_url, migrate=False)
    await store.close()


async def test_replicas_starting_together_migrate_once_without_errors(database_url: str) -> None:
    await downgrade_database(database_url, "base")

    await asyncio.gather(*(upgrade_database(database_url) for _ in range(3)))

    names, differences, revision = await _inspect(database_url)
    assert (names, differences, revision) == (TABLES, [], HEAD)


def test_the_written_out_head_is_alembics_newest_migration() -> None:
    # Opening an up-to-date store compares with SHIPPED_HEAD instead of importing Alembic; a new migration
    # that forgets to move it would leave every store unmigrated.
    assert SHIPPED_HEAD == HEAD


async def test_opening_an_up_to_date_store_does_not_import_alembic(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    await upgrade_database(url)
    script = (
        "import asyncio, sys\n"
        "from storage.sql import open_store\n"
        f"async def main():\n    store = await open_store({url!r})\n    await store.close()\n"
        "asyncio.run(main())\n"
        "print('alembic' in sys.modules)\n"
    )
    done = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
