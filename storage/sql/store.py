"""The SQL store the core sees as its `Store`: one class made of the parts of `storage.sql`, and how to open it."""

from __future__ import annotations

from bot.ports import Clock
from storage.sql.channels import ChannelRows
from storage.sql.deliveries import DeliveryRows
from storage.sql.digests import DigestRows
from storage.sql.embeddings import EmbeddingRows
from storage.sql.engine import StoreError, create_engine_for, display_location, ping
from storage.sql.events import EventRows
from storage.sql.leases import LeaseRows
from storage.sql.migrate import SHIPPED_HEAD, current_revision, migrate_if_behind
from storage.sql.papers import PaperRows
from storage.sql.votes import VoteRows


class SqlStore(
    PaperRows, ChannelRows, VoteRows, DigestRows, DeliveryRows, EmbeddingRows, EventRows, LeaseRows
):
    """The `bot.ports.Store` on SQLite or PostgreSQL (and, for the semantic extra, paper embeddings)."""

    async def close(self) -> None:
        """Release every pooled connection."""
        await self.engine.dispose()


async def open_store(url: str, *, migrate: bool = True, clock: Clock | None = None) -> SqlStore:
    """Open the store at `url`, migrating it first unless told not to; raise StoreError with a sentence."""
    engine = create_engine_for(url)
    try:
        if migrate:
            await migrate_if_behind(engine, url)
        else:
            await ping(engine, url)
            at, head = await current_revision(engine), SHIPPED_HEAD
            if at != head:
                raise StoreError(
                    f"The database at {display_location(url)} is at migration {at or 'none'}, not {head}; "
                    "run `paperboy db upgrade`."
                )
    except BaseException:
        await engine.dispose()
        raise
    return SqlStore(engine, clock=clock)
