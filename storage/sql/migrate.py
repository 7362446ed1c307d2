"""Alembic, run from Paperboy: upgrade or downgrade a database, and read its revision and the newest one.

Alembic is imported by these functions, not by this module: `storage.sql` is imported by every `paperboy`
command, and only the few that migrate should pay for Alembic's import (about a third of a second).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.sql.engine import StoreError, create_engine_for, display_location, failure_reason, ping
from storage.sql.transactions import transaction

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parents[1] / "migrations"

# Key of the pg_advisory_xact_lock a migration holds: one migrator at a time lets replicas start together.
_MIGRATION_LOCK = 0x6D696772  # "migr"


def _alembic_config(url: str) -> Config:
    """An Alembic configuration that needs no alembic.ini: the scripts are found beside this package."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["url"] = url
    return config


async def _run_migration(engine: AsyncEngine, url: str, revision: str, *, downgrade: bool = False) -> None:
    """Run Alembic on one of our connections, inside one locked transaction."""
    from alembic import command

    config = _alembic_config(url)

    def run(connection: Connection) -> None:
        config.attributes["connection"] = connection
        if downgrade:
            command.downgrade(config, revision)
        else:
            command.upgrade(config, revision)

    async with transaction(engine, write=True, lock=_MIGRATION_LOCK) as conn:
        await conn.run_sync(run)


def head_revision() -> str | None:
    """The newest migration this code ships."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_alembic_config("")).get_current_head()


async def current_revision(engine: AsyncEngine) -> str | None:
    """The migration the database is at; None when it was never migrated."""
    from alembic.runtime.migration import MigrationContext

    def read(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    async with engine.connect() as conn:
        return await conn.run_sync(read)


async def migrate_to(engine: AsyncEngine, url: str, revision: str, *, downgrade: bool = False) -> None:
    """Ping, then migrate; any failure becomes one StoreError sentence (the cause stays chained)."""
    await ping(engine, url)
    try:
        await _run_migration(engine, url, revision, downgrade=downgrade)
    except (OSError, SQLAlchemyError, TimeoutError) as exc:
        raise StoreError(
            f"Cannot migrate the database at {display_location(url)}: {failure_reason(exc)}."
        ) from exc


async def upgrade_database(url: str, revision: str = "head") -> None:
    """Apply the migrations up to `revision` (the newest by default); `paperboy db upgrade` calls this."""
    engine = create_engine_for(url)
    try:
        await migrate_to(engine, url, revision)
    finally:
        await engine.dispose()


async def downgrade_database(url: str, revision: str) -> None:
    """Undo migrations down to `revision` ("base" removes every table)."""
    engine = create_engine_for(url)
    try:
        await migrate_to(engine, url, revision, downgrade=True)
    finally:
        await engine.dispose()
