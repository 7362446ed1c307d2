"""Fixtures of the search tests: an index in a temporary folder, filled directly or through a real store."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Collection, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.domain import Paper, UpsertCounts
from bot.query import parse_query
from storage.search.index import TantivyIndex, open_index
from storage.sql import SqlStore, open_store
from tests.clock import FixedClock
from tests.conftest import copy_of_migrated_sqlite, empty_postgres

Fill = Callable[[Sequence[Paper]], Awaitable[TantivyIndex]]


class FakePaperStore:
    """Just enough of PaperRepository for the index: upserts stamped by a clock the test moves.

    It is also a Clock, so an index can be given the store's idea of the time.
    """

    def __init__(self) -> None:
        self.papers: dict[str, Paper] = {}
        self.clock = FixedClock(datetime(2025, 9, 1, 12, 0, tzinfo=UTC))
        # The mark of each catch-up read, and how many papers the reads returned in all.
        self.reads: list[datetime | None] = []
        self.papers_returned = 0

    def now(self) -> datetime:
        """The store's current time."""
        return self.clock.now()

    def tick(self, minutes: int = 10) -> None:
        """Move the clock forward."""
        self.clock.advance(minutes=minutes)

    async def upsert_papers(self, papers: Sequence[Paper]) -> UpsertCounts:
        """Store papers stamped with the current time."""
        new = updated = unchanged = 0
        # As the SQL store does: later than every stamp already given, whatever the clock says.
        newest = max((p.updated_at for p in self.papers.values() if p.updated_at is not None), default=None)
        stamp = (
            self.clock.now() if newest is None else max(self.clock.now(), newest + timedelta(microseconds=1))
        )
        for paper in papers:
            known = self.papers.get(paper.arxiv_id)
            stamped = replace(paper, updated_at=stamp)
            if known is None:
                new += 1
            elif replace(known, updated_at=None) == replace(paper, updated_at=None):
                unchanged += 1
                continue
            else:
                updated += 1
            self.papers[paper.arxiv_id] = stamped
        return UpsertCounts(new=new, updated=updated, unchanged=unchanged)

    async def count_papers(self) -> int:
        """How many papers are stored."""
        return len(self.papers)

    async def get_paper(self, arxiv_id: str) -> Paper | None:
        """One stored paper."""
        return self.papers.get(arxiv_id)

    async def papers_featured_between(self, first: date, last: date) -> list[Paper]:
        """Papers featured in the range, withdrawn ones left out."""
        return [
            p
            for p in self.papers.values()
            if p.featured_on is not None and first <= p.featured_on <= last and not p.withdrawn
        ]

    async def get_papers(self, arxiv_ids: Collection[str]) -> dict[str, Paper]:
        """Stored papers by id."""
        return {i: self.papers[i] for i in arxiv_ids if i in self.papers}

    async def papers_changed_after(
        self, mark: datetime | None, batch: int
    ) -> AsyncGenerator[list[Paper], None]:
        """Papers stamped after `mark`, oldest stamp first, `batch` at a time."""
        self.reads.append(mark)
        found = sorted(
            (
                p
                for p in self.papers.values()
                if mark is None or (p.updated_at is not None and p.updated_at > mark)
            ),
            key=lambda p: (p.updated_at or mark or datetime.min.replace(tzinfo=UTC), p.arxiv_id),
        )
        for start in range(0, len(found), batch):
            self.papers_returned += len(found[start : start + batch])
            yield found[start : start + batch]


@pytest.fixture
async def index(tmp_path: Path) -> AsyncIterator[TantivyIndex]:
    """An empty index in a fresh folder, closed after the test."""
    opened = await open_index(tmp_path / "index")
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture(params=["direct", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def paper_source(request: pytest.FixtureRequest, tmp_path: Path) -> str | None:
    """Where `fill` puts papers first: nowhere (None), or the URL of an empty SQLite or PostgreSQL store."""
    if request.param == "direct":
        return None
    if request.param == "sqlite":
        return copy_of_migrated_sqlite(request.getfixturevalue("migrated_sqlite"), tmp_path / "papers.db")
    database = request.getfixturevalue("postgres_database")
    asyncio.run(empty_postgres(database.url))
    return str(database.url)


@pytest.fixture
async def fill(paper_source: str | None, tmp_path: Path) -> AsyncIterator[Fill]:
    """Put papers into an index: straight in, or into a real store and then by catch-up from it."""
    opened: list[TantivyIndex] = []
    stores: list[SqlStore] = []

    async def fill_with(papers: Sequence[Paper]) -> TantivyIndex:
        index = await open_index(tmp_path / f"index-{len(opened)}")
        opened.append(index)
        if paper_source is None:
            await index.add_papers(papers)
            return index
        store = await open_store(paper_source)
        stores.append(store)
        await store.upsert_papers(papers)
        await index.catch_up(store)
        return index

    try:
        yield fill_with
    finally:
        for index in opened:
            await index.close()
        for store in stores:
            await store.close()


async def ids_for(
    index: TantivyIndex,
    text: str,
    limit: int = 10,
    *,
    restrict_to: Collection[str] | None = None,
    require_all_words: bool = False,
) -> list[str]:
    """The ids a query in the query language finds, best first."""
    hits = await index.search(
        parse_query(text), limit, restrict_to=restrict_to, require_all_words=require_all_words
    )
    return [arxiv_id for arxiv_id, _ in hits]


def paper(arxiv_id: str, title: str, abstract: str = "", **fields: Any) -> Paper:
    """A paper with the fields a test names."""
    return Paper(arxiv_id=arxiv_id, title=title, abstract=abstract, **fields)


LIBRARY = [
    paper(
        "2205.13147",
        "Matryoshka Representation Learning",
        "Learned representations are a central component in modern ML systems, serving a multitude of "
        "downstream tasks. We encode information at different granularities in nested embeddings.",
        authors=["Aditya Kusupati", "Gantavya Bhatt", "Ali Farhadi"],
        categories=["cs.LG", "cs.CV"],
        published=date(2022, 5, 26),
        organization="Google Research",
    ),
    paper(
        "2308.04079",
        "3D Gaussian Splatting for Real-Time Radiance Field Rendering",
        "Radiance field methods have recently revolutionized novel-view synthesis of scenes captured with "
        "multiple photos or videos. We introduce three key elements with state of the art visual quality.",
        authors=["Bernhard Kerbl", "Georgios Kopanas", "Thomas Leimkühler", "George Drettakis"],
        categories=["cs.GR", "cs.CV"],
        published=date(2023, 8, 8),
        featured_on=date(2023, 8, 9),
    ),
    paper(
        "2106.09685",
        "LoRA: Low-Rank Adaptation of Large Language Models",
        "An important paradigm of natural language processing consists of large-scale pre-training on "
        "general domain data and adaptation to particular tasks. We propose low-rank adaptation.",
        authors=["Edward J. Hu", "Yelong Shen", "Phillip Wallis"],
        categories=["cs.CL", "cs.LG"],
        published=date(2021, 6, 17),
        organization="Microsoft",
        ai_keywords=["parameter-efficient fine-tuning", "low-rank adaptation"],
    ),
    paper(
        "2501.00001",
        "Compressing Splats with Learned Codebooks",
        "We shrink gaussian scenes by learning codebooks; our representation keeps rendering quality.",
        authors=["Jane Doe", "Bernhard Schölkopf"],
        categories=["cs.CV"],
        published=date(2024, 12, 30),
        featured_on=date(2025, 1, 2),
        ai_summary="A codebook method that makes gaussian splatting scenes twenty times smaller.",
    ),
    paper(
        "2502.00002",
        "A Survey of Learning Rate Schedules",
        "Learning representation quality depends on the schedule; we survey warmup and decay for language "
        "models.",
        authors=["John Smith"],
        categories=["cs.LG"],
        published=date(2025, 2, 3),
    ),
]
