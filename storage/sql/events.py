"""Platform events already acted on, shared by every replica: a retry of one is skipped wherever it lands."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete

from storage.sql.base import StorePart
from storage.sql.tables import event_keys
from storage.sql.transactions import transaction

# Expired keys are deleted now and then, not on every event: the look-up ignores them anyway.
_PURGE_EVERY = timedelta(minutes=5)


class EventRows(StorePart):
    """The event_keys table: the store's `EventLog`."""

    _purged_at: datetime | None = None

    async def record_event(self, key: str, seen_at: datetime, forget_before: datetime) -> bool:
        """Note that an event is being acted on; False when it was already, at or after `forget_before`.

        One statement (insert, or take over a key older than `forget_before`), so that two replicas handed
        the same event at the same moment cannot both act on it.
        """
        insert = self._insert(event_keys).values(key=key, seen_at=seen_at)
        statement = insert.on_conflict_do_update(
            index_elements=["key"],
            set_={"seen_at": insert.excluded.seen_at},
            where=event_keys.c.seen_at < forget_before,
        ).returning(event_keys.c.key)
        async with transaction(self.engine, write=True) as conn:
            first = (await conn.execute(statement)).first() is not None
            if self._purged_at is None or seen_at - self._purged_at >= _PURGE_EVERY:
                await conn.execute(delete(event_keys).where(event_keys.c.seen_at < forget_before))
                self._purged_at = seen_at
        return first

    async def forget_event(self, key: str) -> None:
        """Forget an event whose handling failed, so that the platform's retry of it is acted on."""
        async with transaction(self.engine, write=True) as conn:
            await conn.execute(delete(event_keys).where(event_keys.c.key == key))
