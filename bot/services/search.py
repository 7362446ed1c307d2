"""Search: the query language run against the index, answered with stored papers and local votes."""

from __future__ import annotations

from bot.domain import ScoredPaper, Workspace
from bot.ports import SearchIndex, Store
from bot.query import QueryError, SearchQuery, parse_query, validate_query

MAX_LIMIT = 100


class PaperSearch:
    """Finds papers for a query in the one query language."""

    def __init__(self, store: Store, index: SearchIndex) -> None:
        self._store = store
        self._index = index

    async def search(
        self, text: str, limit: int = 10, *, workspace: Workspace | None = None
    ) -> list[ScoredPaper]:
        """Best papers for a query; raise QueryError with a sentence when the query cannot run."""
        query = parse_query(text)
        validate_query(query)
        return await self.run(query, limit, workspace=workspace)

    async def run(
        self, query: SearchQuery, limit: int, *, workspace: Workspace | None = None
    ) -> list[ScoredPaper]:
        """Run an already parsed query."""
        if not 1 <= limit <= MAX_LIMIT:
            raise QueryError(f"Ask for 1 to {MAX_LIMIT} results, not {limit}.")
        hits = await self._index.search(query, limit)
        if not hits:
            return []
        ids = [arxiv_id for arxiv_id, _ in hits]
        papers = await self._store.get_papers(ids)
        votes = await self._store.vote_counts(ids, workspace)
        # The index is derived data and may lag a deletion: only stored papers are answered.
        return [
            ScoredPaper(papers[arxiv_id], score, votes.get(arxiv_id, 0))
            for arxiv_id, score in hits
            if arxiv_id in papers
        ]
