"""Keeps this replica's search index caught up with the database while `paperboy run` serves."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

from apscheduler.job import Job
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.core import Paperboy

if TYPE_CHECKING:
    from adapters.app.compose import House

log = logging.getLogger(__name__)

# Papers written by another replica or another process (`paperboy ingest …` beside a running bot) become
# searchable here within this many seconds; a catch-up with nothing new costs one indexed query that returns no
# paper (the index records the newest store stamp it has read), however large the store.
CATCH_UP_SECONDS = 60


class IndexSync:
    """A first catch-up in the background at start (a big one must not delay serving), then one a minute."""

    def __init__(self, paperboy: Paperboy, scheduler: AsyncIOScheduler) -> None:
        self._paperboy = paperboy
        self._scheduler = scheduler
        self._job: Job | None = None
        self._first: asyncio.Task[None] | None = None

    async def catch_up(self) -> None:
        """Index what changed in the store; failures are logged and retried at the next run."""
        try:
            # The index logs what it wrote; with nothing new this is one indexed query.
            await self._paperboy.index.catch_up(self._paperboy.store)
        except Exception:
            log.exception("search index catch-up failed; retrying in %s s", CATCH_UP_SECONDS)
            return
        semantic = self._paperboy.semantic
        if semantic is not None:
            # The first one loads every stored vector, so that the first search by meaning is quick.
            try:
                await semantic.catch_up()
            except Exception:
                log.exception("semantic index catch-up failed; retrying in %s s", CATCH_UP_SECONDS)

    async def start(self) -> None:
        """Start the first catch-up and schedule the next ones."""
        self._first = asyncio.create_task(self.catch_up(), name="index-catch-up")
        self._job = self._scheduler.add_job(
            self.catch_up,
            "interval",
            seconds=CATCH_UP_SECONDS,
            id="index-catch-up",
            replace_existing=True,
            max_instances=1,
            coalesce=True,
        )

    async def stop(self) -> None:
        """Stop catching up (an interrupted catch-up resumes from the last mark it recorded)."""
        if self._job is not None:
            with contextlib.suppress(JobLookupError):
                self._job.remove()
        if self._first is not None:
            self._first.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._first


async def start_index_sync(house: House, scheduler: AsyncIOScheduler, web_app: Any) -> IndexSync:
    """`paperboy run`'s index catch-up (registered in adapters.app.runner.EXTRA_STARTERS)."""
    sync = IndexSync(house.core, scheduler)
    await sync.start()
    return sync
