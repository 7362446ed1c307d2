"""Search: the query language run against the index (and, when on, by meaning), answered with stored papers."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from bot.domain import Paper, ScoredPaper, Workspace
from bot.ports import SearchIndex, SemanticIndex, Store
from bot.query import QueryError, SearchQuery, parse_query, validate_query

MAX_LIMIT = 100
# How deep each ranking is read before fusion: a paper ranked 40th by words and 3rd by meaning can still win.
FUSION_DEPTH = 50
# Reciprocal rank fusion: a paper scores the sum of 1 / (RRF_K + rank) over the rankings that hold it.
RRF_K = 60


def meaning_text(query: SearchQuery) -> str:
    """What a query asks for in plain words (its words and phrases), as the semantic index reads it."""
    return " ".join([*query.words, *query.phrases]).strip()


def filters_of(query: SearchQuery) -> SearchQuery:
    """The part of a query that every answer must satisfy: phrases, exclusions and field filters."""
    return SearchQuery(
        phrases=list(query.phrases),
        excluded_words=list(query.excluded_words),
        excluded_phrases=list(query.excluded_phrases),
        authors=list(query.authors),
        categories=list(query.categories),
        orgs=list(query.orgs),
        since=query.since,
    )


def has_filters(query: SearchQuery) -> bool:
    """True when some answers could be ruled out by more than words."""
    return bool(
        query.phrases
        or query.excluded_words
        or query.excluded_phrases
        or query.authors
        or query.categories
        or query.orgs
        or query.since
    )


def fuse(rankings: Sequence[Sequence[tuple[str, float]]], limit: int) -> list[tuple[str, float]]:
    """Reciprocal rank fusion of rankings (best first); ties go to the earlier ranking's order."""
    scores: dict[str, float] = {}
    first_seen: dict[str, tuple[int, int]] = {}
    for which, ranking in enumerate(rankings):
        for rank, (arxiv_id, _) in enumerate(ranking, 1):
            scores[arxiv_id] = scores.get(arxiv_id, 0.0) + 1.0 / (RRF_K + rank)
            first_seen.setdefault(arxiv_id, (which, rank))
    ordered = sorted(scores, key=lambda arxiv_id: (-scores[arxiv_id], first_seen[arxiv_id]))
    return [(arxiv_id, scores[arxiv_id]) for arxiv_id in ordered[:limit]]


class PaperSearch:
    """Finds papers for a query in the one query language: by words, and by meaning when that is on."""

    def __init__(self, store: Store, index: SearchIndex, semantic: SemanticIndex | None = None) -> None:
        self._store = store
        self._index = index
        self._semantic = semantic

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
        hits = await self.ranked(query, limit)
        return await self._answer(hits, workspace)

    async def ranked(self, query: SearchQuery, limit: int) -> list[tuple[str, float]]:
        """(arxiv_id, score) best first: the index's ranking, fused with the semantic one when it is on."""
        text = meaning_text(query)
        if self._semantic is None or not text:
            return await self._index.search(query, limit)
        depth = max(limit, FUSION_DEPTH)
        lexical, by_meaning = await asyncio.gather(
            self._index.search(query, depth), self._semantic.search(text, depth)
        )
        by_meaning = await self._admissible(query, by_meaning)
        return fuse([lexical, by_meaning], limit)

    async def _admissible(self, query: SearchQuery, hits: list[tuple[str, float]]) -> list[tuple[str, float]]:
        """The hits that satisfy the query's phrases, exclusions and filters (asked of the index)."""
        if not hits or not has_filters(query):
            return hits
        allowed = await self._index.search(filters_of(query), len(hits), restrict_to=[i for i, _ in hits])
        keep = {arxiv_id for arxiv_id, _ in allowed}
        return [hit for hit in hits if hit[0] in keep]

    async def similar(
        self, paper: Paper, limit: int, *, workspace: Workspace | None = None
    ) -> list[ScoredPaper]:
        """Papers like `paper`: nearest in meaning when that is on, else sharing its most telling words."""
        if not 1 <= limit <= MAX_LIMIT:
            raise QueryError(f"Ask for 1 to {MAX_LIMIT} results, not {limit}.")
        if self._semantic is not None:
            hits = await self._semantic.similar(paper, limit + 5)
        else:
            hits = await self._index.similar(paper, limit + 5)
        answered = await self._answer(hits, workspace)
        return answered[:limit]

    async def _answer(self, hits: list[tuple[str, float]], workspace: Workspace | None) -> list[ScoredPaper]:
        """Stored papers and local votes for the hits, in their order."""
        if not hits:
            return []
        ids = [arxiv_id for arxiv_id, _ in hits]
        papers = await self._store.get_papers(ids)
        votes = await self._store.vote_counts(ids, workspace)
        # The index is derived data and may lag a deletion or a withdrawal: only stored, live papers are answered.
        return [
            ScoredPaper(papers[arxiv_id], score, votes.get(arxiv_id, 0))
            for arxiv_id, score in hits
            if arxiv_id in papers and not papers[arxiv_id].withdrawn
        ]
