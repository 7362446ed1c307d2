"""Paper embeddings in the database (the semantic extra): the store's side, mixed into `storage.sql.SqlStore`.

Vectors are bytes here (little-endian float16); `storage.vectors.index` turns them into matrices. Like the search
index, embeddings are derived data: they can always be computed again from the papers' text.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import and_, func, select

from storage.sql.tables import paper_embeddings, papers
from storage.vectors.store import EmbeddingSource, StoredEmbedding

if TYPE_CHECKING:
    from sqlalchemy import Table
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

T = TypeVar("T")
# Ids per SELECT … IN (…), far below the bind limits of SQLite and asyncpg.
_CHUNK = 2000


class EmbeddingRows:
    """The paper_embeddings table, for a store that has `engine`, `_write` and `_now` (SqlStore)."""

    if TYPE_CHECKING:
        engine: AsyncEngine

        async def _write(self, work: Callable[[AsyncConnection], Awaitable[T]]) -> T: ...

        def _now(self) -> datetime: ...

        def _insert(self, table: Table) -> Any: ...

    async def save_embeddings(
        self, model: str, dimension: int, rows: Sequence[tuple[str, str, bytes]]
    ) -> None:
        """Insert or replace (arxiv_id, text_hash, vector) rows of one model in one transaction."""
        if not rows:
            return
        stamp = self._now()
        values = [
            {
                "model": model,
                "arxiv_id": arxiv_id,
                "text_hash": text_hash,
                "dimension": dimension,
                "vector": vector,
                "updated_at": stamp,
            }
            for arxiv_id, text_hash, vector in {row[0]: row for row in rows}.values()
        ]
        insert: Any = self._insert(paper_embeddings)
        statement = insert.on_conflict_do_update(
            index_elements=["model", "arxiv_id"],
            set_={name: insert.excluded[name] for name in ("text_hash", "dimension", "vector", "updated_at")},
        )

        async def write(conn: AsyncConnection) -> None:
            await conn.execute(statement, values)

        await self._write(write)

    async def embeddings_since(
        self, model: str, since: datetime | None, after_id: str, limit: int
    ) -> list[StoredEmbedding]:
        """Vectors of one model stored at or after `since` (all when None), by id after `after_id`."""
        table = paper_embeddings
        statement = select(table.c.arxiv_id, table.c.text_hash, table.c.vector, table.c.updated_at).where(
            table.c.model == model, table.c.arxiv_id > after_id
        )
        if since is not None:
            statement = statement.where(table.c.updated_at >= since)
        statement = statement.order_by(table.c.arxiv_id).limit(limit)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(statement)).all()
        return [StoredEmbedding(row[0], row[1], bytes(row[2]), row[3]) for row in rows]

    async def embedding_hashes(self, model: str, arxiv_ids: Collection[str]) -> dict[str, str]:
        """The text digests stored for these papers under one model (papers without a vector are left out)."""
        found: dict[str, str] = {}
        ids = list(dict.fromkeys(arxiv_ids))
        async with self.engine.connect() as conn:
            for start in range(0, len(ids), _CHUNK):
                statement = select(paper_embeddings.c.arxiv_id, paper_embeddings.c.text_hash).where(
                    paper_embeddings.c.model == model,
                    paper_embeddings.c.arxiv_id.in_(ids[start : start + _CHUNK]),
                )
                found.update((row[0], row[1]) for row in await conn.execute(statement))
        return found

    async def embedding_sources(self, model: str, after_id: str, limit: int) -> list[EmbeddingSource]:
        """Papers by id after `after_id` with their text and the digest stored under `model` (None: no vector)."""
        statement = (
            select(
                papers.c.arxiv_id,
                papers.c.title,
                papers.c.abstract,
                papers.c.withdrawn,
                paper_embeddings.c.text_hash,
            )
            .select_from(
                papers.outerjoin(
                    paper_embeddings,
                    and_(paper_embeddings.c.arxiv_id == papers.c.arxiv_id, paper_embeddings.c.model == model),
                )
            )
            .where(papers.c.arxiv_id > after_id)
            .order_by(papers.c.arxiv_id)
            .limit(limit)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(statement)).all()
        return [EmbeddingSource(row[0], row[1], row[2] or "", bool(row[3]), row[4]) for row in rows]

    async def count_embeddings(self, model: str) -> int:
        """How many papers have a vector under `model`."""
        statement = (
            select(func.count()).select_from(paper_embeddings).where(paper_embeddings.c.model == model)
        )
        async with self.engine.connect() as conn:
            return int((await conn.execute(statement)).scalar_one())
