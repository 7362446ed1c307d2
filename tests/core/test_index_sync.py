"""Papers another process writes to the database become searchable in a running bot without a restart."""

from __future__ import annotations

import asyncio

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from adapters.app.index_sync import IndexSync
from bot.core import Paperboy
from bot.domain import Paper


async def test_a_paper_stored_elsewhere_is_found_after_the_background_catch_up(paperboy: Paperboy) -> None:
    # Another replica (or `paperboy ingest` beside the bot) writes the database only, not this index.
    await paperboy.store.upsert_papers(
        [Paper(arxiv_id="2611.00001", title="Quokka Attention for Marsupial Vision", abstract="quokka")]
    )
    assert await paperboy.search("quokka") == []
    scheduler = AsyncIOScheduler(timezone="UTC")
    scheduler.start()
    sync = IndexSync(paperboy, scheduler)
    await sync.start()
    try:
        for _ in range(100):
            if await paperboy.search("quokka"):
                break
            await asyncio.sleep(0.05)
        found = await paperboy.search("quokka")
        assert [item.paper.arxiv_id for item in found] == ["2611.00001"]
        assert scheduler.get_job("index-catch-up") is not None
    finally:
        await sync.stop()
        scheduler.shutdown(wait=False)
    assert scheduler.get_job("index-catch-up") is None
