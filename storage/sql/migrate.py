"""Alembic, run from Paperboy: upgrade or downgrade a database, and read its revision and the newest one.

Alembic is imported by these functions, not by this module: `storage.sql` is imported by every `paperboy`
command, and only the few that migrate should pay for Alembic's import (about a third of a second).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.sql.engine import StoreError, create_engine_for, display_location, failure_reason, ping
from storage.sql.transactions import transaction

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parents[1] / "migrations"
# The newest migration in storage/migrations/versions, written out so that opening an up-to-date store needs
# no Alembic import (a test checks it against Alembic's own head). A new migration changes it.
SHIPPED_HEAD = "0008"

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
    """The migration the database is at (Alembic's version table, read with plain SQL); None when never migrated."""
    async with engine.connect() as conn:
        try:
            rows = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalars().all()
        except SQLAlchemyError:
            return None  # no version table: a database nothing has migrated yet
    return str(rows[0]) if len(rows) == 1 else None


async def migrate_if_behind(engine: AsyncEngine, url: str) -> None:
    """Ping, then migrate to the newest revision unless the database is there already (Alembic not imported)."""
    await ping(engine, url)
    if await current_revision(engine) != SHIPPED_HEAD:
        await migrate_to(engine, url, "head")


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
