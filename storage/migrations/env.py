"""Alembic environment: migrate on a connection handed in by storage.sql, or on an async engine of its own."""

from __future__ import annotations

import asyncio
import logging.config
import os

from alembic import context
from sqlalchemy.engine import Connection

from storage.sql.engine import async_url, create_engine_for
from storage.sql.tables import metadata

config = context.config
# Only the `alembic` command line reads an ini file; Paperboy's own logging is left alone otherwise.
if config.config_file_name is not None:
    logging.config.fileConfig(config.config_file_name, disable_existing_loggers=False)


def _run_on(connection: Connection) -> None:
    """Run the pending migrations on one connection (inside its transaction when it has one)."""
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite cannot ALTER most things in place; batch mode copies the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _url() -> str:
    """The database to migrate when no connection was handed in (developers' `alembic` command line)."""
    url = (
        config.attributes.get("url")
        or os.environ.get("DATABASE_URL")
        or config.get_main_option("sqlalchemy.url")
    )
    if not url:
        raise RuntimeError("No database URL: set sqlalchemy.url, or migrate through storage.sql.")
    return str(url)


async def _run_async() -> None:
    """Open an async engine of our own and run the migrations through `connection.run_sync`."""
    engine = create_engine_for(_url())
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_run_on)
    finally:
        await engine.dispose()


def run_migrations_offline() -> None:
    """Print the SQL instead of running it (`alembic upgrade head --sql`)."""
    context.configure(url=async_url(_url()), target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run on the caller's connection when there is one, else on a fresh async engine."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _run_on(connection)
    else:
        asyncio.run(_run_async())


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
