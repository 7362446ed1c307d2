"""What the semantic index needs of the store, and the rows it gets back: plain data, neither numpy nor SQL.

`storage.sql.SqlStore` provides it, through `storage.sql.embeddings.EmbeddingRows`.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True, slots=True)
class StoredEmbedding:
    """One stored vector: the paper, the digest of the text it was made from, the float16 bytes."""

    arxiv_id: str
    text_hash: str
    vector: bytes
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class EmbeddingSource:
    """A paper's text as the embedder needs it, and the digest of the text its stored vector came from."""

    arxiv_id: str
    title: str
    abstract: str
    withdrawn: bool
    stored_hash: str | None


class EmbeddingStore(Protocol):
    """What the semantic index needs of the store (`storage.sql.SqlStore` has it)."""

    async def save_embeddings(
        self, model: str, dimension: int, rows: Sequence[tuple[str, str, bytes]]
    ) -> None:
        """Insert or replace (arxiv_id, text_hash, vector) rows."""
        ...

    async def embeddings_since(
        self, model: str, since: datetime | None, after_id: str, limit: int
    ) -> list[StoredEmbedding]:
        """Vectors stored at or after `since`, by id after `after_id`."""
        ...

    async def embedding_hashes(self, model: str, arxiv_ids: Collection[str]) -> dict[str, str]:
        """Stored text digests of these papers."""
        ...

    async def embedding_sources(self, model: str, after_id: str, limit: int) -> list[EmbeddingSource]:
        """Papers with their text and stored digest, by id after `after_id`."""
        ...

    async def count_papers(self) -> int:
        """How many papers are stored."""
        ...
