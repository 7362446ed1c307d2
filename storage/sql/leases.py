"""Leases in the SQL store: a job that one replica at a time runs (the Daily Papers refresh)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete

from storage.sql.base import StorePart, affected
from storage.sql.tables import leases
from storage.sql.transactions import transaction


class LeaseRows(StorePart):
    """The leases table: the store's `LeaseBook`."""

    async def take_lease(self, name: str, holder: str, now: datetime, until: datetime) -> bool:
        """Hold the lease `name` until `until` when it is free, run out at `now`, or `holder`'s already.

        One conditional insert-or-update: of replicas asking at the same moment, exactly one gets it (on
        PostgreSQL the others wait for its row and find it taken; SQLite has one writer at a time).
        """
        insert = self._insert(leases).values(name=name, holder=holder, until=until)
        statement = insert.on_conflict_do_update(
            index_elements=["name"],
            set_={"holder": insert.excluded.holder, "until": insert.excluded.until},
            where=(leases.c.until <= now) | (leases.c.holder == holder),
        ).returning(leases.c.name)
        async with transaction(self.engine, write=True) as conn:
            return (await conn.execute(statement)).first() is not None

    async def release_lease(self, name: str, holder: str) -> bool:
        """Give the lease up at once (a replica that stops), when `holder` holds it; True when it did."""
        statement = delete(leases).where(leases.c.name == name, leases.c.holder == holder)
        async with transaction(self.engine, write=True) as conn:
            return affected(await conn.execute(statement)) > 0
