"""The SQL store: every table of Paperboy on SQLite or PostgreSQL, through SQLAlchemy's async Core.

The names other packages import; each lives in the module of its concern (engine, migrate, store, and the
store's parts: papers, channels, votes, digests, deliveries). Importing this package does not import Alembic.
"""

from storage.sql.engine import StoreError, async_url, create_engine_for, sqlite_path
from storage.sql.migrate import (
    MIGRATIONS_DIR,
    current_revision,
    downgrade_database,
    head_revision,
    upgrade_database,
)
from storage.sql.store import SqlStore, open_store

__all__ = [
    "MIGRATIONS_DIR",
    "SqlStore",
    "StoreError",
    "async_url",
    "create_engine_for",
    "current_revision",
    "downgrade_database",
    "head_revision",
    "open_store",
    "sqlite_path",
    "upgrade_database",
]
