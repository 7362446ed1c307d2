"""Database URLs and what a person sees when the database cannot be opened."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from storage.sql.engine import StoreError, async_url, sqlite_path
from storage.sql.migrate import upgrade_database
from storage.sql.store import open_store


@pytest.mark.parametrize(
    ("ordinary", "with_driver"),
    [
        ("sqlite:///paperboy.db", "sqlite+aiosqlite:///paperboy.db"),
        ("sqlite:////var/lib/paperboy/p.db", "sqlite+aiosqlite:////var/lib/paperboy/p.db"),
        ("sqlite://", "sqlite+aiosqlite://"),
        ("postgresql://postgres@127.0.0.1:5432/test", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"),
        ("postgres://u:p@db/paperboy", "postgresql+asyncpg://u:p@db/paperboy"),
        ("postgresql+psycopg2://u@db/paperboy", "postgresql+asyncpg://u@db/paperboy"),
        ("sqlite+aiosqlite:///x.db", "sqlite+aiosqlite:///x.db"),
        ("postgresql+asyncpg://u@db/p", "postgresql+asyncpg://u@db/p"),
        ("postgresql://u@db/p?sslmode=require", "postgresql+asyncpg://u@db/p?ssl=require"),
    ],
)
def test_ordinary_urls_get_our_async_driver(ordinary: str, with_driver: str) -> None:
    assert async_url(ordinary) == with_driver


def test_other_databases_are_refused_with_what_would_work() -> None:
    with pytest.raises(StoreError, match=r"use sqlite:///path/to.db or postgresql://"):
        async_url("mysql://root@localhost/paperboy")
    with pytest.raises(StoreError, match="is not a database URL"):
        async_url("paperboy.db")


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite:///paperboy.db", Path("paperboy.db")),
        ("sqlite:////srv/data/p.db", Path("/srv/data/p.db")),
        ("sqlite+aiosqlite:///rel/p.db", Path("rel/p.db")),
        ("sqlite://", None),
        ("sqlite:///:memory:", None),
        ("postgresql://postgres@127.0.0.1:5432/test", None),
    ],
)
def test_sqlite_path_names_the_database_file(url: str, path: Path | None) -> None:
    assert sqlite_path(url) == path


async def test_a_missing_directory_is_one_clear_sentence(tmp_path: Path) -> None:
    target = tmp_path / "nowhere" / "paperboy.db"

    with pytest.raises(StoreError) as caught:
        await open_store(f"sqlite:///{target}")

    assert (
        str(caught.value)
        == f"Cannot open the database at {target}: directory {target.parent} does not exist."
    )
    assert not target.parent.exists()


async def test_a_file_where_the_directory_should_be_is_one_clear_sentence(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not a folder")
    target = tmp_path / "notes.txt" / "paperboy.db"

    with pytest.raises(StoreError, match=r"^Cannot open the database at .*: .* is not a directory\.$"):
        await upgrade_database(f"sqlite:///{target}")


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root may write into any directory")
async def test_an_unwritable_directory_is_one_clear_sentence(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(StoreError) as caught:
            await open_store(f"sqlite:///{locked / 'paperboy.db'}")
    finally:
        locked.chmod(0o700)

    assert (
        str(caught.value)
        == f"Cannot open the database at {locked / 'paperboy.db'}: directory is not writable."
    )


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs Linux's read-only /proc")
async def test_a_location_sqlite_cannot_create_a_file_in_is_one_clear_sentence() -> None:
    # /proc takes no new files, even from root: this reaches SQLite's own refusal.
    with pytest.raises(StoreError, match=r"^Cannot open the database at /proc/paperboy\.db: .+\.$"):
        await open_store("sqlite:////proc/paperboy.db")


async def test_an_unreachable_server_is_one_sentence_without_the_password() -> None:
    # Port 1 on the loopback refuses at once; nothing leaves the machine.
    with pytest.raises(StoreError) as caught:
        await open_store("postgresql://paperboy:s3cret@127.0.0.1:1/paperboy")

    message = str(caught.value)
    assert message.startswith("Cannot open the database at postgresql://paperboy:***@127.0.0.1:1/paperboy: ")
    assert "s3cret" not in message
    assert message.endswith(".") and "\n" not in message
